#!/usr/bin/env bash
# Build natter in release mode and install the binary.
#
#   ./install.sh                 # into ~/.local/bin (or /usr/local/bin when run as root)
#   ./install.sh --prefix /opt/natter/bin
#   sudo ./install.sh --systemd  # also write and enable a systemd unit running `natter serve`
#
# Options: --prefix DIR, --systemd, --data-dir DIR (for the unit; default /var/lib/natter),
#          --user NAME (the unit's user; default natter, created if missing), --bind ADDR,
#          --flags "..." (more `natter serve` flags for the unit, e.g. the Raspberry Pi profile:
#          --flags "--hash-concurrency 1 --db-readers 2 --db-cache 4MiB").
set -euo pipefail
cd "$(dirname "$0")"

if [ "$(id -u)" -eq 0 ]; then prefix=/usr/local/bin; else prefix="$HOME/.local/bin"; fi
systemd=no
data_dir=/var/lib/natter
service_user=natter
bind=0.0.0.0:8000
flags=""

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix="$2"; shift 2 ;;
        --systemd) systemd=yes; shift ;;
        --data-dir) data_dir="$2"; shift 2 ;;
        --user) service_user="$2"; shift 2 ;;
        --bind) bind="$2"; shift 2 ;;
        --flags) flags="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done

command -v cargo >/dev/null || { echo "install.sh: cargo is needed (https://rustup.rs)" >&2; exit 1; }
cargo build --release --locked
mkdir -p "$prefix"
install -m 0755 target/release/natter "$prefix/natter"
echo "installed $prefix/natter ($("$prefix/natter" --version))"

if [ "$systemd" = yes ]; then
    [ "$(id -u)" -eq 0 ] || { echo "install.sh: --systemd needs root" >&2; exit 1; }
    if ! id "$service_user" >/dev/null 2>&1; then
        useradd --system --home-dir "$data_dir" --shell /usr/sbin/nologin "$service_user"
    fi
    install -d -m 0750 -o "$service_user" -g "$service_user" "$data_dir"
    cat > /etc/systemd/system/natter.service <<UNIT
[Unit]
Description=natter chat server
After=network.target

[Service]
User=$service_user
ExecStart=$prefix/natter serve --bind $bind --data-dir $data_dir${flags:+ $flags}
Restart=on-failure
KillSignal=SIGTERM
TimeoutStopSec=30
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
ReadWritePaths=$data_dir
PrivateTmp=true

[Install]
WantedBy=multi-user.target
UNIT
    systemctl daemon-reload
    systemctl enable --now natter.service
    echo "natter.service enabled; data in $data_dir; check with: $prefix/natter healthcheck --url http://127.0.0.1:${bind##*:}"
fi
