/**
 * The node collector: one POSIX `sh` script (no bashisms; runs under dash, busybox sh and bash), shipped as a string
 * so it is part of the build. `netdoctor collect` pipes it into `sh -s`; a user can run it by hand on any node
 * (`netdoctor collect --print-script`).
 *
 * It is dumb on purpose: it runs the commands of `COLLECTOR_COMMANDS` and reads the files of `COLLECTOR_FILES`, and
 * prints what it got, verbatim, in frames that survive any bytes (see `frames.ts`):
 *
 *   @@netdoctor <kind> <id> <exit> <bytes>\n<exactly <bytes> raw bytes>\n
 *
 * Each output first goes to a file in a private temporary directory so its length is known before it is printed;
 * nothing is held in shell variables, so tens of MB of iptables-save stream through. The directory is removed on
 * exit, also on a signal; nothing else is written on the node.
 */
import { VERSION } from '../cli/version.js';
import { COLLECTOR_COMMANDS, COLLECTOR_FILES } from './commands.js';

/** The framing format version, printed in the `meta format` frame. */
export const COLLECTOR_FORMAT = 1;

/**
 * Seconds a single command may run before `timeout` stops it (when the node has `timeout`). Generous: on a loaded
 * node iptables-nft-save of 10,000 services (30 MB) takes minutes; the bound is there for tools that hang.
 */
export const DEFAULT_COMMAND_TIMEOUT_S = 600;

const PLAIN_WORD = /^[A-Za-z0-9_.,:=/+-]+$/;

function commandLines(): string {
  return COLLECTOR_COMMANDS.map((c) => {
    for (const w of [c.id, ...c.argv])
      if (!PLAIN_WORD.test(w)) throw new Error(`collector command word "${w}" would need quoting`);
    return `  nd_run ${c.id} ${c.argv.join(' ')}`;
  }).join('\n');
}

function fileLines(): string {
  return COLLECTOR_FILES.map((p) => {
    if (!PLAIN_WORD.test(p.replaceAll('*', ''))) throw new Error(`collector file "${p}" would need quoting`);
    return p.includes('*') ? `  nd_glob '${p}'` : `  nd_file ${p}`;
  }).join('\n');
}

/** The collector script. Plain POSIX sh; the whole body is one function so `sh -s` parses it before running any of it. */
export const COLLECTOR_SCRIPT: string = String.raw`#!/bin/sh
# netdoctor node collector, format ${COLLECTOR_FORMAT} (netdoctor ${VERSION}).
#
# Runs read-only commands and reads a few files, and prints every result verbatim in frames:
#   @@netdoctor <kind> <id> <exit> <bytes>   (one line), then exactly <bytes> raw bytes, then one newline.
# Kinds: meta (format, version, hostname, date, uid, timeout), cmd (the command line), stdout and stderr (with the
# command's exit code), missing (the tool is not installed: exit 127), file (a file's content), file-error (why a file
# could not be read), end (the output is complete). Parse by length, never by delimiters.
#
# It writes nothing on the node except a private temporary directory, removed on exit.
# Run it as root:   sudo sh collect.sh > node.out          or:   ssh NODE sudo sh -s < collect.sh > node.out
# then:             netdoctor bundle import-raw node.out --node NODE -o bundle/nodes/NODE.json
# NETDOCTOR_CMD_TIMEOUT (seconds, default ${DEFAULT_COMMAND_TIMEOUT_S}) bounds each command when timeout(1) exists.
# NETDOCTOR_ROOT (e.g. /host in a pod that mounts the node's / there) is where the node's files are read from; they
# are recorded under their own paths. /proc is always this process's own (with hostNetwork, the node's network).

nd_cleanup() {
  if [ -n "$nd_pid" ]; then kill "$nd_pid" 2>/dev/null; fi
  nd_pid=
  if [ -n "$nd_tmp" ]; then rm -rf "$nd_tmp"; fi
  nd_tmp=
}

nd_mktemp() {
  for nd_d in "$TMPDIR" /tmp /var/tmp /dev/shm; do
    if [ -z "$nd_d" ] || [ ! -d "$nd_d" ] || [ ! -w "$nd_d" ]; then continue; fi
    nd_c=$(mktemp -d "$nd_d/netdoctor.XXXXXX" 2>/dev/null)
    if [ -n "$nd_c" ] && [ -d "$nd_c" ]; then nd_tmp=$nd_c; return 0; fi
    if mkdir -m 700 "$nd_d/netdoctor.$$" 2>/dev/null; then nd_tmp="$nd_d/netdoctor.$$"; return 0; fi
  done
  return 1
}

# nd_n := size in bytes of file $1 (wc pads with spaces on some systems; field splitting drops them).
nd_size() {
  nd_n=$(wc -c <"$1")
  set -- $nd_n
  nd_n=$1
  if [ -z "$nd_n" ]; then nd_n=0; fi
}

# nd_emit KIND ID EXIT FILE: one frame holding the bytes of FILE.
nd_emit() {
  nd_size "$4"
  printf '@@netdoctor %s %s %s %s\n' "$1" "$2" "$3" "$nd_n"
  cat "$4"
  printf '\n'
}

# nd_text KIND ID EXIT TEXT: one frame holding TEXT (short strings only).
nd_text() {
  printf '%s' "$4" >"$nd_tmp/t"
  nd_emit "$1" "$2" "$3" "$nd_tmp/t"
}

nd_timeout_setup() {
  nd_secs=$NETDOCTOR_CMD_TIMEOUT
  case $nd_secs in '' | *[!0-9]*) nd_secs=${DEFAULT_COMMAND_TIMEOUT_S} ;; esac
  nd_to=
  if command -v timeout >/dev/null 2>&1; then
    if timeout -k 5 10 true </dev/null >/dev/null 2>&1; then
      nd_to="timeout -k 5 $nd_secs"
    elif timeout 10 true </dev/null >/dev/null 2>&1; then
      nd_to="timeout $nd_secs"
    fi
  fi
}

# nd_run ID COMMAND ARGS...: run one command, stdin from /dev/null, bounded by timeout(1) when present.
nd_run() {
  nd_id=$1
  shift
  nd_text cmd "$nd_id" 0 "$*"
  if command -v "$1" >/dev/null 2>&1; then
    # In the background and waited for, so a signal to this shell is handled at once (the trap stops the command).
    $nd_to "$@" </dev/null >"$nd_tmp/o" 2>"$nd_tmp/e" &
    nd_pid=$!
    wait "$nd_pid"
    nd_rc=$?
    nd_pid=
    nd_emit stdout "$nd_id" "$nd_rc" "$nd_tmp/o"
    nd_emit stderr "$nd_id" "$nd_rc" "$nd_tmp/e"
    rm -f "$nd_tmp/o" "$nd_tmp/e"
  else
    printf '@@netdoctor missing %s 127 0\n\n' "$nd_id"
  fi
}

# nd_file PATH: the file's content, or why it could not be read. Copied first, so a file that changes while it is
# read (/proc counters) still gets a length that matches its bytes.
# nd_resolve PATH: nd_p := where PATH is read: under NETDOCTOR_ROOT, absolute symlinks followed inside that root.
nd_resolve() {
  case $1 in /proc/*) nd_p=$1; return 0 ;; esac
  nd_p=$nd_root$1
  nd_i=0
  while [ -n "$nd_root" ] && [ -L "$nd_p" ] && [ "$nd_i" -lt 8 ]; do
    nd_l=$(readlink "$nd_p" 2>/dev/null) || break
    case $nd_l in /*) nd_p=$nd_root$nd_l ;; *) nd_p=${'$'}{nd_p%/*}/$nd_l ;; esac
    nd_i=$((nd_i + 1))
  done
}

nd_file() {
  case $1 in *"$nd_nl"*) return 0 ;; esac
  nd_resolve "$1"
  if [ ! -e "$nd_p" ]; then
    if [ -L "$nd_p" ]; then nd_text file-error "$1" 1 'dangling symlink'; else nd_text file-error "$1" 1 missing; fi
  elif [ ! -f "$nd_p" ]; then
    nd_text file-error "$1" 1 'not a regular file'
  elif cat "$nd_p" </dev/null >"$nd_tmp/f" 2>"$nd_tmp/e"; then
    nd_emit file "$1" 0 "$nd_tmp/f"
  else
    nd_rc=$?
    if [ ! -r "$nd_p" ]; then nd_text file-error "$1" "$nd_rc" 'permission denied'
    else nd_emit file-error "$1" "$nd_rc" "$nd_tmp/e"; fi
  fi
  rm -f "$nd_tmp/f" "$nd_tmp/e"
}

# nd_glob PATTERN: every file the pattern matches (none: nothing recorded).
nd_glob() {
  for nd_g in $nd_root$1; do
    if [ -e "$nd_g" ] || [ -L "$nd_g" ]; then nd_file "${'$'}{nd_g#"$nd_root"}"; fi
  done
}

nd_main() {
  umask 077
  LC_ALL=C
  export LC_ALL
  nd_nl='
'
  nd_tmp=
  nd_pid=
  nd_root=${'$'}{NETDOCTOR_ROOT%/}
  trap nd_cleanup EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 141' PIPE
  trap 'exit 143' TERM
  if ! nd_mktemp; then
    echo 'netdoctor collector: cannot create a temporary directory (tried $TMPDIR, /tmp, /var/tmp, /dev/shm)' >&2
    exit 1
  fi
  nd_timeout_setup
  nd_text meta format 0 ${COLLECTOR_FORMAT}
  nd_text meta version 0 '${VERSION}'
  nd_text meta hostname 0 "$(uname -n 2>/dev/null)"
  nd_text meta date 0 "$(date -u +%Y-%m-%dT%H:%M:%SZ 2>/dev/null)"
  nd_text meta uid 0 "$(id -u 2>/dev/null)"
  nd_text meta timeout 0 "$nd_to"
${commandLines()}
${fileLines()}
  printf '@@netdoctor end - 0 0\n\n'
  nd_cleanup
}

nd_main </dev/null
`;
