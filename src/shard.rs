//! The data plane's threads: one single-threaded tokio runtime per core ("shard").
//!
//! A client connection lives on one shard from accept to close, with its upstream
//! connections and their idle pool (`backend::pool` keeps one pool per shard), so a
//! keep-alive request never wakes another thread. Listeners are not duplicated: each
//! bind keeps its one socket (reload and soft stop handle exactly that socket), and its
//! accept loop hands each new connection to the shard serving the fewest.
//!
//! The control plane (signals, reload, health checks, runtime sockets) runs on its own
//! runtime, started by `lifecycle::run`.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use tokio::runtime::Handle;

static COUNT: OnceLock<usize> = OnceLock::new();

thread_local! {
    static CURRENT: Cell<usize> = const { Cell::new(0) };
}

/// Number of shards (1 until `start` runs, e.g. in unit tests and fuzzing).
pub fn count() -> usize {
    COUNT.get().copied().unwrap_or(1)
}

/// Index of the shard running the calling thread (0 outside the data plane).
pub fn current() -> usize {
    CURRENT.with(Cell::get)
}

/// The running shards.
#[derive(Debug, Clone)]
pub struct Shards {
    handles: Arc<[Handle]>,
    /// Connections being served, per shard.
    load: Arc<[AtomicUsize]>,
    /// The CPUs the process could run on at start.
    default_cpus: Arc<[usize]>,
}

impl Shards {
    /// Starts `n` shard threads (at least one), each running a current-thread runtime
    /// until the process exits. Can be called once per process.
    pub fn start(n: usize) -> Result<Shards, String> {
        let n = n.max(1);
        if COUNT.set(n).is_err() && count() != n {
            return Err("the data plane was already started".into());
        }
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the runtime: {e}"))?;
            handles.push(rt.handle().clone());
            std::thread::Builder::new()
                .name(format!("lbd-shard-{i}"))
                .spawn(move || {
                    CURRENT.with(|c| c.set(i));
                    rt.block_on(std::future::pending::<()>());
                })
                .map_err(|e| format!("cannot start thread: {e}"))?;
        }
        Ok(Shards {
            handles: handles.into(),
            load: (0..n).map(|_| AtomicUsize::new(0)).collect(),
            default_cpus: allowed_cpus().into(),
        })
    }

    /// Binds each thread to the CPUs `cpu-map` gives it, and a thread it does not
    /// mention to the CPUs the process started with (so a reload can undo a binding).
    /// Each thread binds itself; a failure is logged and leaves that thread as it was.
    pub fn bind_cpus(&self, maps: &[crate::config::model::CpuMap]) {
        for (i, cpus) in affinity(maps, self.handles.len()).into_iter().enumerate() {
            let mapped = cpus.is_some();
            let cpus = cpus.unwrap_or_else(|| self.default_cpus.to_vec());
            self.handles[i].spawn(async move {
                if let Err(e) = bind_current_thread(&cpus) {
                    if mapped {
                        crate::log::warning(&format!(
                            "cpu-map: cannot bind thread {} to CPU(s) {:?}: {}",
                            i + 1,
                            cpus,
                            crate::config::io_text(&e)
                        ));
                    }
                }
            });
        }
    }

    /// The shard that registers and accepts on the listening socket with descriptor
    /// `fd` (descriptor numbers spread several listeners over the shards).
    pub fn for_listener(&self, fd: usize) -> &Handle {
        &self.handles[fd % self.handles.len()]
    }

    /// Runs the connection `stream` on the shard with the fewest connections, the
    /// calling one when no other has fewer (handing a connection to another thread
    /// costs a wake-up): `serve` is called there with the stream registered on that
    /// shard's reactor (the stream comes unregistered, so it is registered once).
    ///
    /// The task holds `serve`'s future once: an `async` block awaiting it would store
    /// it twice (the captured future and the one being awaited), and an idle
    /// connection is mostly that future.
    pub fn dispatch<S, F, Fut>(&self, std: S, serve: F)
    where
        S: Unregistered,
        F: FnOnce(S::Stream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let here = current() % self.handles.len();
        let pick = least_loaded(self.load.len(), |i| self.load[i].load(Relaxed), here);
        let guard = Busy::new(self.load.clone(), pick);
        if pick == here {
            let Ok(stream) = std.register() else {
                return;
            };
            tokio::spawn(Guarded::new(serve(stream), guard));
            return;
        }
        self.handles[pick].spawn(Guarded::new(Launch::Start { serve, std }, guard));
    }
}

/// An accepted connection not registered with any reactor yet: the shard that serves
/// it registers it.
pub trait Unregistered: Send + 'static {
    /// The registered stream.
    type Stream;
    /// Registers the connection with the calling thread's reactor.
    fn register(self) -> std::io::Result<Self::Stream>;
}

impl Unregistered for std::net::TcpStream {
    type Stream = tokio::net::TcpStream;
    fn register(self) -> std::io::Result<tokio::net::TcpStream> {
        tokio::net::TcpStream::from_std(self)
    }
}

pin_project_lite::pin_project! {
    /// A future that keeps `guard` until it is dropped (tokio drops a task's future as
    /// soon as it completes).
    pub struct Guarded<F, G> {
        #[pin]
        fut: F,
        guard: G,
    }
}

impl<F, G> Guarded<F, G> {
    /// `fut`, holding `guard`.
    pub fn new(fut: F, guard: G) -> Self {
        Guarded { fut, guard }
    }
}

impl<F: Future, G> Future for Guarded<F, G> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().fut.poll(cx)
    }
}

pin_project_lite::pin_project! {
    /// A connection handed to another shard: registered on that shard's reactor and
    /// started by its first poll there, then run in place.
    #[project = LaunchProj]
    #[project_replace = LaunchOwn]
    enum Launch<F, Fut, S> {
        Start { serve: F, std: S },
        Run { #[pin] fut: Fut },
        Done,
    }
}

impl<F, Fut, S> Future for Launch<F, Fut, S>
where
    S: Unregistered,
    F: FnOnce(S::Stream) -> Fut,
    Fut: Future<Output = ()>,
{
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let LaunchProj::Run { fut } = self.as_mut().project() {
            return fut.poll(cx);
        }
        let LaunchOwn::Start { serve, std } = self.as_mut().project_replace(Launch::Done) else {
            return Poll::Ready(());
        };
        let Ok(stream) = std.register() else {
            return Poll::Ready(());
        };
        self.set(Launch::Run { fut: serve(stream) });
        self.poll(cx)
    }
}

/// The CPUs each of `n` threads is bound to by `maps` (`None`: not mentioned). A later
/// line wins; `auto:` gives the listed threads one CPU each, in order (cycling when
/// all threads are mapped onto fewer CPUs).
pub fn affinity(maps: &[crate::config::model::CpuMap], n: usize) -> Vec<Option<Vec<usize>>> {
    let mut out = vec![None; n];
    for m in maps {
        let threads: Vec<usize> = match &m.threads {
            None => (0..n).collect(),
            Some(t) => t.iter().map(|&t| t as usize - 1).collect(),
        };
        for (k, t) in threads.into_iter().enumerate() {
            if t < n {
                out[t] = Some(if m.auto {
                    vec![m.cpus[k % m.cpus.len()]]
                } else {
                    m.cpus.clone()
                });
            }
        }
    }
    out
}

/// The CPUs the calling thread may run on.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is an empty set; sched_getaffinity fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

/// Binds the calling thread to `cpus` (nothing to do for an empty list).
fn bind_current_thread(cpus: &[usize]) -> std::io::Result<()> {
    if cpus.is_empty() {
        return Ok(());
    }
    // SAFETY: `set` is a valid cpu_set_t; CPU numbers are below CPU_SETSIZE (the config
    // parser checks it).
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Of `n` shards whose loads `load` gives, the one with the smallest load: `here`
/// unless another is strictly smaller.
fn least_loaded(n: usize, load: impl Fn(usize) -> usize, here: usize) -> usize {
    let (mut pick, mut least) = (here, load(here));
    for i in 0..n {
        let l = load(i);
        if l < least {
            (pick, least) = (i, l);
        }
    }
    pick
}

/// One connection counted on a shard until dropped.
struct Busy(Arc<[AtomicUsize]>, usize);

impl Busy {
    fn new(load: Arc<[AtomicUsize]>, i: usize) -> Busy {
        load[i].fetch_add(1, Relaxed);
        Busy(load, i)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0[self.1].fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::least_loaded;

    #[test]
    fn cpu_map_lines_give_each_thread_its_cpus() {
        use super::affinity;
        use crate::config::model::CpuMap;
        let m = |auto, threads: Option<Vec<u32>>, cpus: Vec<usize>| CpuMap {
            auto,
            threads,
            cpus,
        };
        assert_eq!(affinity(&[], 2), vec![None, None]);
        assert_eq!(
            affinity(&[m(false, None, vec![0, 1])], 2),
            vec![Some(vec![0, 1]), Some(vec![0, 1])]
        );
        assert_eq!(
            affinity(&[m(true, None, vec![2, 3])], 3),
            vec![Some(vec![2]), Some(vec![3]), Some(vec![2])]
        );
        assert_eq!(
            affinity(&[m(true, Some(vec![1, 2, 3, 4]), vec![4, 5, 6, 7])], 2),
            vec![Some(vec![4]), Some(vec![5])]
        );
        // A later line wins; threads beyond nbthread are left out.
        assert_eq!(
            affinity(
                &[m(false, None, vec![0]), m(false, Some(vec![2, 9]), vec![1])],
                2
            ),
            vec![Some(vec![0]), Some(vec![1])]
        );
    }

    #[test]
    fn the_calling_shard_keeps_a_connection_unless_another_has_fewer() {
        let pick = |l: &[usize], here| least_loaded(l.len(), |i| l[i], here);
        assert_eq!(pick(&[0, 0], 0), 0);
        assert_eq!(pick(&[0, 0], 1), 1);
        assert_eq!(pick(&[3, 3, 3], 2), 2);
        assert_eq!(pick(&[2, 1], 0), 1);
        assert_eq!(pick(&[1, 2], 1), 0);
        assert_eq!(pick(&[5, 1, 1, 4], 3), 1);
        assert_eq!(pick(&[5, 1, 1, 4], 2), 2);
        assert_eq!(pick(&[7], 0), 0);
    }
}
