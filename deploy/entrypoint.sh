#!/bin/sh
# The container's entrypoint (installed as /usr/local/bin/parrhesia-entrypoint), and the same
# steps for a node run by hand. Modes:
#
#   relay [FLAG...]   (the default) prepare the node key and the allowed peers, then exec
#                     `parrhesia FLAG...`. The relay's configuration is its own: PARRHESIA_<KEY>
#                     variables and/or `--config FILE`. These variables are read here only:
#     NODE_KEY_SOURCE   a node key file to use (e.g. a mounted Kubernetes Secret, whose files
#                       are group-readable): copied with mode 0600 to
#                       PARRHESIA_CLUSTER_NODE_KEY_FILE.
#     NODE_KEY_GENERATE "1": make PARRHESIA_CLUSTER_NODE_KEY_FILE (`parrhesia-tools keygen`)
#                       if it does not exist yet, i.e. on the node's first start.
#     PEERS_DIR         a directory of NAME.pub files, one public key each: when
#                       PARRHESIA_CLUSTER_ALLOWED_PEERS is unset, the allowed peers are every
#                       key found there.
#     PEERS_PUBLISH_AS  NAME: first write this node's own public key to PEERS_DIR/NAME.pub
#                       (nodes sharing a volume tell each other their keys).
#     PEERS_EXPECTED    N: wait (up to PEERS_WAIT_SECONDS, default 300) until PEERS_DIR holds
#                       N keys, so that nodes started together all know each other.
#   health [URL]      `parrhesia-tools health`: the NIP-11 document answers (HEALTHCHECK, probes).
#   anything else     run as given, e.g. `parrhesia-tools stats`.
set -eu

say() {
    echo "parrhesia-entrypoint: $*" >&2
}

die() {
    say "$*"
    exit 1
}

# Every public key in $PEERS_DIR/*.pub, in the relay's list syntax ("a, b, c").
peers_from_dir() {
    found=
    for file in "$PEERS_DIR"/*.pub; do
        [ -f "$file" ] || continue
        key=$(head -n 1 "$file" | tr -d ' \r\n')
        case $key in
            *[!0-9a-f]* | "") die "$file does not hold a public key (64 lowercase hex)" ;;
        esac
        [ ${#key} -eq 64 ] || die "$file does not hold a public key (64 lowercase hex)"
        found="${found:+$found, }$key"
    done
    echo "$found"
}

count_peers() {
    set -- "$PEERS_DIR"/*.pub
    if [ -f "$1" ]; then echo $#; else echo 0; fi
}

prepare_node_key() {
    target=${PARRHESIA_CLUSTER_NODE_KEY_FILE:-}
    if [ -n "${NODE_KEY_SOURCE:-}" ]; then
        [ -n "$target" ] || die "NODE_KEY_SOURCE is set but PARRHESIA_CLUSTER_NODE_KEY_FILE is not"
        [ -f "$NODE_KEY_SOURCE" ] || die "NODE_KEY_SOURCE=$NODE_KEY_SOURCE is not a file"
        mkdir -p "$(dirname "$target")"
        if ! cmp -s "$NODE_KEY_SOURCE" "$target"; then
            # A new file each time: the relay refuses a key file others may read.
            rm -f "$target"
            (umask 077 && cat "$NODE_KEY_SOURCE" > "$target")
        fi
    elif [ "${NODE_KEY_GENERATE:-}" = 1 ] && [ -n "$target" ] && [ ! -e "$target" ]; then
        mkdir -p "$(dirname "$target")"
        public=$(parrhesia-tools keygen --out "$target")
        say "first start: made node key $target, public key $public"
    fi
}

prepare_peers() {
    [ -n "${PEERS_DIR:-}" ] || return 0
    if [ -n "${PEERS_PUBLISH_AS:-}" ]; then
        [ -n "${PARRHESIA_CLUSTER_NODE_KEY_FILE:-}" ] || die "PEERS_PUBLISH_AS needs PARRHESIA_CLUSTER_NODE_KEY_FILE"
        mkdir -p "$PEERS_DIR"
        public=$(parrhesia-tools pubkey "$PARRHESIA_CLUSTER_NODE_KEY_FILE")
        echo "$public" > "$PEERS_DIR/$PEERS_PUBLISH_AS.pub.new"
        mv "$PEERS_DIR/$PEERS_PUBLISH_AS.pub.new" "$PEERS_DIR/$PEERS_PUBLISH_AS.pub"
    fi
    if [ -n "${PEERS_EXPECTED:-}" ]; then
        waited=0
        while [ "$(count_peers)" -lt "$PEERS_EXPECTED" ]; do
            [ "$waited" -lt "${PEERS_WAIT_SECONDS:-300}" ] ||
                die "PEERS_DIR=$PEERS_DIR holds $(count_peers) keys after ${waited}s, PEERS_EXPECTED=$PEERS_EXPECTED"
            [ $((waited % 10)) -eq 0 ] && say "waiting for $PEERS_EXPECTED keys in $PEERS_DIR ($(count_peers) so far)"
            sleep 1
            waited=$((waited + 1))
        done
    fi
    if [ -z "${PARRHESIA_CLUSTER_ALLOWED_PEERS:-}" ]; then
        PARRHESIA_CLUSTER_ALLOWED_PEERS=$(peers_from_dir)
        [ -n "$PARRHESIA_CLUSTER_ALLOWED_PEERS" ] || die "PEERS_DIR=$PEERS_DIR holds no *.pub file"
        export PARRHESIA_CLUSTER_ALLOWED_PEERS
    fi
}

mode=${1:-relay}
[ $# -gt 0 ] && shift
case $mode in
    # Flags alone (`docker run IMAGE --config FILE`) are the relay's.
    -*) set -- "$mode" "$@" && mode=relay ;;
esac
case $mode in
    relay)
        prepare_node_key
        prepare_peers
        exec parrhesia "$@"
        ;;
    health)
        exec parrhesia-tools health "$@"
        ;;
    *)
        exec "$mode" "$@"
        ;;
esac
