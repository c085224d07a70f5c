# lbd in a container: `docker build -t lbd .` then
#   docker run -p 8080:8080 -v $PWD/lb.cfg:/etc/lbd/lbd.cfg:ro lbd
# The image runs `lbd -f /etc/lbd/lbd.cfg` as the unprivileged user lbd. Its default
# config is packaging/lbd.cfg (stats and /metrics on 127.0.0.1:8404, i.e. only inside
# the container): mount your own. /run/lbd holds the runtime socket, /var/log/lbd the
# file logs (stderr is the container's log). Ports below 1024 need
# `--cap-add NET_BIND_SERVICE` or a higher port.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked && cp target/release/lbd /lbd

FROM debian:bookworm-slim
RUN useradd --system --no-create-home --shell /usr/sbin/nologin lbd \
    && install -d -o lbd -g lbd /run/lbd /var/log/lbd \
    && install -d /etc/lbd
COPY --from=build /lbd /usr/sbin/lbd
COPY packaging/lbd.cfg /etc/lbd/lbd.cfg
COPY packaging/lbd.8 /usr/share/man/man8/lbd.8
USER lbd
# SIGUSR1 drains (soft stop); `docker stop` sends SIGTERM: stop at once, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/sbin/lbd"]
CMD ["-f", "/etc/lbd/lbd.cfg"]
