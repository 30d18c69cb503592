#!/bin/bash
# assemble.sh — builds jobcell's minimal task root filesystem.
#
#   assemble.sh [--stamp FILE] OUTDIR BUSYBOX INIT WORKER [EXTRA_BIN...]
#
# OUTDIR gets: /bin/busybox (must be static) and one symlink per applet it
# lists (/bin/sh included); /sbin/jobcell-init (INIT); /usr/bin/jobcell-worker
# (WORKER); each EXTRA_BIN in /usr/bin under its basename; a tiny /etc
# (passwd, group, hosts; no hostname); empty mount points proc dev tmp sys.
# Every program must be statically linked: the tree has no libc.
#
# Tasks run as an unprivileged host uid, so everything is readable by others,
# nothing is group/other-writable and no setuid/setgid bit survives.
#
# The tree is built in OUTDIR.tmp and swapped in with two renames, so OUTDIR
# is the complete old tree or the complete new one, never a half-built one.
# --stamp touches FILE on success (for the build system).
#
# Runs at build time (meson custom_target rootfs_tgt), as the building user.
set -euo pipefail

prog=${0##*/}
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }
usage() { die "usage: $prog [--stamp FILE] OUTDIR BUSYBOX INIT WORKER [EXTRA_BIN...]"; }

stamp=
if [[ ${1-} == --stamp ]]; then
    [[ $# -ge 2 ]] || usage
    stamp=$2
    shift 2
fi
[[ $# -ge 4 ]] || usage
outdir=${1%/}
busybox=$2
init=$3
worker=$4
shift 4
[[ -n $outdir && $outdir != / ]] || die "refusing OUTDIR '$outdir'"
tmp=$outdir.tmp
old=$outdir.old

# A program is usable in the tree only if it is an executable static ELF.
check_static() {
    local f=$1 hdr
    [[ -f $f ]] || die "$f: no such file"
    [[ -x $f ]] || die "$f: not executable"
    command -v readelf >/dev/null || return 0
    hdr=$(LC_ALL=C readelf -lW "$f" 2>&1) || die "$f: not an ELF program: $hdr"
    if grep -q 'Requesting program interpreter' <<<"$hdr"; then
        die "$f: dynamically linked, but the rootfs has no libc (link it -static)"
    fi
}

# EXTRA_BINs land in /usr/bin by basename: no clashes, no silent overwrite.
check_extra_names() {
    local seen=" jobcell-worker " f name
    for f in "$@"; do
        name=${f##*/}
        [[ $seen != *" $name "* ]] || die "$f: a second /usr/bin/$name"
        seen+="$name "
    done
}

make_dirs() {
    local d
    for d in bin sbin usr/bin usr/libexec etc proc dev tmp sys home root; do
        mkdir -p -- "$tmp/$d"
    done
}

install_busybox() {
    local applets applet
    install -m 0755 -- "$busybox" "$tmp/bin/busybox"
    applets=$("$tmp/bin/busybox" --list) || die "$busybox --list failed"
    [[ -n $applets ]] || die "$busybox --list printed nothing"
    while IFS= read -r applet; do
        case $applet in
            ''|busybox) continue ;;
            */*|.|..) die "unexpected applet name '$applet'" ;;
        esac
        ln -s busybox "$tmp/bin/$applet"
    done <<<"$applets"
    [[ -L $tmp/bin/sh ]] || die "$busybox has no sh applet"
}

install_programs() {
    local f
    install -m 0755 -- "$init" "$tmp/sbin/jobcell-init"
    install -m 0755 -- "$worker" "$tmp/usr/bin/jobcell-worker"
    for f in "$@"; do
        install -m 0755 -- "$f" "$tmp/usr/bin/${f##*/}"
    done
}

write_etc() {
    printf '%s\n' 'root:x:0:0:task:/root:/bin/sh' \
        'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$tmp/etc/passwd"
    printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$tmp/etc/group"
    printf '%s\n' '127.0.0.1 localhost' >"$tmp/etc/hosts"
}

# Readable (searchable/executable where it makes sense) by the task's
# unprivileged uid; writable by the owner only; no set-id bits anywhere.
# chmod -R does not follow the applet symlinks.
fix_permissions() {
    chmod -R u+rwX,go+rX,go-w,ug-s -- "$tmp"
    if [[ -n $(find "$tmp" ! -type l -perm /6022 -print -quit) ]]; then
        die "set-id or group/other-writable files remain in $tmp"
    fi
}

# OUTDIR is the old tree until the first rename and the new one after the
# second; only the instant between them has no OUTDIR.
swap_in() {
    if [[ -e $outdir || -L $outdir ]]; then
        mv -T -- "$outdir" "$old"
    fi
    mv -T -- "$tmp" "$outdir"
    rm -rf -- "$old"
}

for f in "$busybox" "$init" "$worker" "$@"; do check_static "$f"; done
check_extra_names "$@"
rm -rf -- "$tmp" "$old"
make_dirs
install_busybox
install_programs "$@"
write_etc
fix_permissions
swap_in
if [[ -n $stamp ]]; then
    touch -- "$stamp"
fi
printf '%s: rootfs ready at %s\n' "$prog" "$outdir"
