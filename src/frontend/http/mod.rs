//! The HTTP/1 proxy (hyper on both sides).
//!
//! A connection (`conn`) is served by hyper and parked between requests. Each request
//! (`request`) goes through named steps around one context: head checks and framing
//! (`head`), the frontend's rules and the stats page (`actions`), the backend and its
//! rules, persistence and the balancing key, then pick + connect + retry (`upstream`,
//! over the connect path shared with tcp mode), the response (`response`) and the
//! access-log line. Bodies are streamed both ways, never buffered whole. A request
//! resolves its graph once and finishes on it; a keep-alive connection picks up a
//! newer graph at its next request.
//!
//! Failure statuses (`reply`): 503 no server (or queue full/timeout, or connect
//! failures after `retries`), 502 invalid or failed response, 504 `timeout server`;
//! hyper itself answers 400 (malformed), 414 and 431 (head over `tune.bufsize`).

mod actions;
pub mod bench;
mod body;
mod capture;
mod conn;
mod h2;
mod head;
mod normalize;
mod reply;
mod request;
mod response;
mod state;
mod upstream;

pub use conn::{serve, ClientBody, Start};
pub use head::{check_request_bytes, check_request_framing, validate_head};
pub use reply::error_response;
