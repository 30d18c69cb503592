#!/bin/bash
# install-rootfs.sh — meson install step for the assembled task rootfs.
#
#   install-rootfs.sh SRC_TREE DEST_DIR
#
# Copies SRC_TREE (<builddir>/rootfs/root) to $DESTDIR/DEST_DIR (normally
# <prefix>/share/jobcell/rootfs) with cp -a, replacing any previous copy so
# that no stale file (say, an applet busybox no longer has) survives.
# Run by `meson install` (meson.add_install_script), which sets DESTDIR
# when staging.
set -euo pipefail

prog=${0##*/}
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }

[[ $# -eq 2 ]] || die "usage: $prog SRC_TREE DEST_DIR"
src=$1
dest=${DESTDIR-}$2
[[ -d $src && -x $src/sbin/jobcell-init ]] ||
    die "$src: not an assembled rootfs (build first: ninja rootfs/root.stamp)"
[[ ${dest%/} == */jobcell/rootfs ]] || die "refusing to replace '$dest'"

mkdir -p -- "$(dirname -- "$dest")"
rm -rf -- "$dest.new"
cp -a -- "$src" "$dest.new"
rm -rf -- "$dest"
mv -T -- "$dest.new" "$dest"
printf 'Installing rootfs to %s\n' "$dest"
