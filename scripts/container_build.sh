#!/usr/bin/env bash
# Build synsweep's run-time root filesystem: the steps of the Containerfile's
# build stage, runnable without any container registry (CI, this machine).
#
#   scripts/container_build.sh [--rootfs DIR] [--bin FILE] [--image NAME[:TAG]]
#
#   --rootfs DIR   where to assemble it (default target/container/rootfs; emptied first)
#   --bin FILE     an already built synsweep to use (default: cargo build --release --locked)
#   --image NAME   also build the image from the Containerfile with buildah
#                  (Debian's), its build stage replaced by DIR (needs DIR's
#                  name to be rootfs: the Containerfile copies /rootfs/)
#
# The root filesystem holds only what the binary needs at run time:
#   /usr/local/bin/synsweep   stripped, with CAP_NET_RAW and CAP_NET_ADMIN as
#                             file capabilities (cap_net_raw,cap_net_admin+ep):
#                             user 10001 can open raw sockets and install the
#                             RST guard that identification needs
#   /usr/sbin/nft             the build machine's nft (Debian: nftables), which
#                             synsweep runs for the RST guard (no shell needed)
#   the shared libraries `ldd` names for both (glibc, libgcc_s, the loader,
#                             libnftables and its own): the binaries link glibc
#                             dynamically, so a scratch, alpine (musl) or
#                             static-distroless base would not run them
#   /etc/passwd, /etc/group   user and group synsweep, 10001
#   /proc /sys /tmp /results  mount points (the runtime mounts /proc and /sys;
#                             synsweep reads routes, ARP and interfaces there)
# Then it runs `synsweep --version` from the tree with chroot, as user 10001.
# tests/container_image.rs builds the image with it and runs a lab scan with
# the image's own binary, which identifies a real sshd.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)

ROOTFS=$REPO/target/container/rootfs
BIN=
IMAGE=
UID_GID=10001
while (($#)); do
    case "$1" in
    --rootfs) ROOTFS=$2; shift 2 ;;
    --bin) BIN=$2; shift 2 ;;
    --image) IMAGE=$2; shift 2 ;;
    -h | --help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "container_build.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
for tool in ldd strip setcap getcap chroot; do
    command -v "$tool" >/dev/null || { echo "container_build.sh: needs $tool (Debian: libc-bin binutils libcap2-bin coreutils)" >&2; exit 1; }
done
# synsweep looks for nft in these directories only (src/net/rstguard.rs).
NFT=
for d in /usr/sbin /sbin /usr/bin /bin; do
    [[ -x "$d/nft" ]] && { NFT=$(realpath "$d/nft"); break; }
done
[[ -n "$NFT" ]] || { echo "container_build.sh: needs nft (Debian: nftables)" >&2; exit 1; }

ROOTFS=$(realpath -m "$ROOTFS")
[[ -z "$BIN" ]] || BIN=$(realpath "$BIN")
cd "$REPO"
if [[ -z "$BIN" ]]; then
    cargo build --release --locked
    BIN=$REPO/target/release/synsweep
fi
[[ "$ROOTFS" != / && "$ROOTFS" != "$REPO" ]] || { echo "container_build.sh: refusing --rootfs $ROOTFS" >&2; exit 2; }
[[ -x "$BIN" ]] || { echo "container_build.sh: no executable $BIN" >&2; exit 1; }

rm -rf "$ROOTFS"
mkdir -p "$ROOTFS"/{usr/local/bin,usr/sbin,etc,proc,sys,tmp,results}
chmod 1777 "$ROOTFS/tmp"
chown "$UID_GID:$UID_GID" "$ROOTFS/results"
install -m 0755 "$BIN" "$ROOTFS/usr/local/bin/synsweep"
strip --strip-debug "$ROOTFS/usr/local/bin/synsweep"
install -m 0755 "$NFT" "$ROOTFS/usr/sbin/nft"

# Every shared library the binaries load, at the path the loader looks for
# it (symlinks resolved: the file itself under the name ldd shows).
while read -r lib; do
    [[ -n "$lib" ]] || continue
    mkdir -p "$ROOTFS$(dirname "$lib")"
    cp -L "$lib" "$ROOTFS$lib"
done < <(for b in "$ROOTFS/usr/local/bin/synsweep" "$ROOTFS/usr/sbin/nft"; do ldd "$b"; done |
    grep -o '/[^ ]*' | sort -u)

cat >"$ROOTFS/etc/passwd" <<EOF
root:x:0:0:root:/:/nonexistent
synsweep:x:$UID_GID:$UID_GID:synsweep:/tmp:/nonexistent
EOF
cat >"$ROOTFS/etc/group" <<EOF
root:x:0:
synsweep:x:$UID_GID:
EOF

# The two privileges, for whoever runs the binary: raw sockets, and the
# RST guard's nftables table (synsweep passes CAP_NET_ADMIN on to the nft it
# starts, then drops both once its sockets are open). A runtime that grants
# only NET_RAW bounds it to that: a SYN scan, with one warning line.
# Container layers keep them as the security.capability extended attribute.
setcap cap_net_raw,cap_net_admin+ep "$ROOTFS/usr/local/bin/synsweep"
getcap "$ROOTFS/usr/local/bin/synsweep" | grep -q 'cap_net_admin,cap_net_raw[=+]ep' ||
    { echo "container_build.sh: the file system under $ROOTFS does not keep file capabilities" >&2; exit 1; }

version=$(chroot --userspec="$UID_GID:$UID_GID" "$ROOTFS" /usr/local/bin/synsweep --version)
echo "container_build.sh: $ROOTFS: $version, $(du -sh "$ROOTFS" | cut -f1)" >&2

if [[ -n "$IMAGE" ]]; then
    # The Containerfile itself, its build stage replaced by what was just
    # built here (no registry needed): --build-context build=<dir with rootfs/>.
    command -v buildah >/dev/null || { echo "container_build.sh: --image needs buildah (apt-get install buildah)" >&2; exit 1; }
    [[ "$(basename "$ROOTFS")" == rootfs ]] ||
        { echo "container_build.sh: --image needs a --rootfs directory named rootfs (the Containerfile copies /rootfs/)" >&2; exit 2; }
    buildah bud --quiet --build-context build="$(dirname "$ROOTFS")" -f Containerfile -t "$IMAGE" . >/dev/null
    echo "container_build.sh: image $IMAGE" >&2
fi
