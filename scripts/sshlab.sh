#!/usr/bin/env bash
# The SSH test lab: N hosts on this machine, each a Linux network namespace
# with its own sshd, reachable from here over a private subnet.
#
#   scripts/sshlab.sh up N     create (or re-create) the lab with hosts h1..hN
#   scripts/sshlab.sh down     remove it: sshds and everything they started,
#                              namespaces, links and the lab's files
#   scripts/sshlab.sh status   print the lab's settings if it is up
#
# `up` prints shell assignments on stdout, among them LAB_DIR:
#
#   eval "$(scripts/sshlab.sh up 3)"
#   ssh -F "$LAB_DIR/ssh_config" h1 true
#
# Layout. The hosts' namespaces (NAME-h1 … NAME-hN) and this machine are
# joined by veth links to a bridge in a namespace of its own (NAME-sw), on
# the subnet 10.213.K.0/24: this machine is .1 (link NAMEr), host i is
# .(10+i). No host has a default route and nothing is forwarded, so traffic
# stays inside the lab. Each sshd runs in a mount namespace of its own in
# which a per-host directory is bind-mounted over /srv/mrpipe-scratch, over
# root's ~/.cache and over /tmp: what a session writes there is visible to
# that host only (and, on this machine, under LAB_DIR/hI/ only). Logins are
# as root with the lab's key; host keys are the lab's, listed in its
# known_hosts and checked strictly. Sessions start with SHLVL=1, so that
# bash, root's shell, does not source ~/.bashrc for every command as it
# does for sshd's (a heavy one would make each session cost what a slow
# login costs, not what the lab is there to measure).
#
# Settings (environment):
#   SSHLAB_NAME  lab name, [a-z0-9], at most 10 characters (default mrlab);
#                several labs with different names can be up at once
#   SSHLAB_DIR   where the lab's files go (default /var/tmp/mrpipe-sshlab/NAME);
#                not under /tmp, which each host replaces with its own
#   SSHLAB_NET   K, the third octet of the lab's subnet (default: the first
#                free one from 1)
#
# `up` removes what a previous lab of the same name left (crashed or not)
# before it starts; `down` is safe to run any number of times. Needs root,
# iproute2, util-linux and OpenSSH (client and server).
set -Eeuo pipefail
export LC_ALL=C

prog=sshlab.sh
die() { echo "$prog: $*" >&2; exit 1; }
say() { echo "$prog: $*" >&2; }

NAME=${SSHLAB_NAME:-mrlab}
[[ $NAME =~ ^[a-z0-9]{1,10}$ ]] || die "SSHLAB_NAME must be 1 to 10 characters from [a-z0-9]: '$NAME'"
BASE=/var/tmp/mrpipe-sshlab
LAB=${SSHLAB_DIR:-$BASE/$NAME}
SCRATCH=/srv/mrpipe-scratch
SSHD=$(command -v sshd || true)
[ -n "$SSHD" ] || SSHD=/usr/sbin/sshd
ROOTLINK=${NAME}r
SWNS=$NAME-sw

need_tools() {
	[ "$(id -u)" = 0 ] || die "must run as root (network and mount namespaces)"
	local t
	for t in ip ssh ssh-keygen unshare setsid flock getent mount; do
		command -v "$t" >/dev/null || die "$t not found (apt-get install -y iproute2 openssh-client util-linux mount)"
	done
	[ -x "$SSHD" ] || die "sshd not found (apt-get install -y openssh-server)"
}

# lock serializes labs being set up and torn down on this machine. The
# lock's descriptor must not reach the sshds (they would hold it forever).
lock() {
	mkdir -p "$BASE"
	exec 9>"$BASE/.lock"
	flock 9
}

# labnamespaces lists the namespaces belonging to lab NAME.
labnamespaces() {
	ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$NAME-(sw|h[0-9]+)\$" || true
}

# killns kills every process in network namespace $1 until none is left.
killns() {
	local ns=$1 i pids
	for i in $(seq 1 50); do
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		[ -n "$pids" ] || return 0
		# shellcheck disable=SC2086
		kill -9 $pids 2>/dev/null || true
		sleep 0.1
	done
	say "warning: processes left in namespace $ns: $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
}

do_down() {
	local ns f pid
	# sshds whose namespace is already gone (a crashed teardown).
	for f in "$LAB"/h*/sshd.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null || true)
		if [[ $pid =~ ^[0-9]+$ ]] && grep -qF -- "$LAB/" "/proc/$pid/cmdline" 2>/dev/null; then
			kill -9 "$pid" 2>/dev/null || true
		fi
	done
	for ns in $(labnamespaces); do
		killns "$ns"
	done
	for ns in $(labnamespaces); do
		ip netns del "$ns" 2>/dev/null || say "warning: cannot delete namespace $ns"
	done
	ip link del "$ROOTLINK" 2>/dev/null || true
	if [ -d "$LAB" ]; then
		case $LAB in
		/ | /var/tmp | /var | /tmp) die "refusing to remove $LAB" ;;
		esac
		rm -rf -- "$LAB"
	fi
}

# freenet prints the first third octet K whose 10.213.K.0/24 is neither
# used by another lab nor routed on this machine.
freenet() {
	local k used
	used=$(cat "$BASE"/*/lab.env 2>/dev/null | sed -n 's/^SSHLAB_NET=//p' || true)
	for k in $(seq 1 254); do
		grep -qx "$k" <<<"$used" && continue
		ip -4 route show table all 2>/dev/null | grep -q "10\.213\.$k\." && continue
		ip -4 addr show 2>/dev/null | grep -q "10\.213\.$k\." && continue
		echo "$k"
		return 0
	done
	die "no free subnet 10.213.K.0/24"
}

do_up() {
	local n=$1 k i ns hd addr home pid ok
	[[ $n =~ ^[1-9][0-9]*$ ]] && [ "$n" -le 200 ] || die "up: N must be 1 to 200, not '$n'"
	case $(realpath -m "$LAB")/ in
	/tmp/*) die "SSHLAB_DIR must not be under /tmp (each host has its own /tmp)" ;;
	esac
	do_down
	k=${SSHLAB_NET:-$(freenet)}
	[[ $k =~ ^[0-9]+$ ]] && [ "$k" -ge 1 ] && [ "$k" -le 254 ] || die "SSHLAB_NET must be 1 to 254"
	home=$(getent passwd root | cut -d: -f6)
	[ -n "$home" ] || home=/root

	mkdir -p "$LAB" "$SCRATCH" "$home/.cache" /run/sshd
	chmod 0700 "$LAB"
	cat >"$LAB/lab.env" <<-EOF
		LAB_DIR=$LAB
		SSHLAB_NAME=$NAME
		SSHLAB_NET=$k
		SSHLAB_HOSTS=$(seq -s, -f 'h%g' 1 "$n")
		SSHLAB_DRIVER_ADDR=10.213.$k.1
		SSH_CONFIG=$LAB/ssh_config
		SSHLAB_SCRATCH=$SCRATCH
	EOF
	trap 'say "up failed; removing the lab"; do_down' ERR

	# The switch and this machine's link into it.
	ip netns add "$SWNS"
	ip -n "$SWNS" link set lo up
	ip -n "$SWNS" link add br0 type bridge
	ip -n "$SWNS" link set br0 up
	ip link add "$ROOTLINK" type veth peer name up0 netns "$SWNS"
	ip -n "$SWNS" link set up0 master br0 up
	ip addr add "10.213.$k.1/24" dev "$ROOTLINK"
	ip link set "$ROOTLINK" up

	ssh-keygen -q -t ed25519 -N '' -C "sshlab-$NAME" -f "$LAB/id_ed25519"
	cp "$LAB/id_ed25519.pub" "$LAB/authorized_keys"
	: >"$LAB/known_hosts"
	{
		echo "# SSH lab $NAME: ssh -F $LAB/ssh_config h1"
		for i in $(seq 1 "$n"); do
			printf 'Host h%d\n\tHostName 10.213.%d.%d\n' "$i" "$k" $((10 + i))
		done
		cat <<-EOF
			Host *
			    User root
			    Port 22
			    IdentityFile $LAB/id_ed25519
			    IdentitiesOnly yes
			    UserKnownHostsFile $LAB/known_hosts
			    GlobalKnownHostsFile /dev/null
			    StrictHostKeyChecking yes
			    BatchMode yes
			    ConnectTimeout 60
			    LogLevel ERROR
		EOF
	} >"$LAB/ssh_config"

	for i in $(seq 1 "$n"); do
		ns=$NAME-h$i
		hd=$LAB/h$i
		addr=10.213.$k.$((10 + i))
		mkdir -p "$hd/scratch" "$hd/cache" "$hd/tmp"
		chmod 0700 "$hd/scratch" "$hd/cache"
		chmod 1777 "$hd/tmp"
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		ip -n "$SWNS" link add "h$i" type veth peer name eth0 netns "$ns"
		ip -n "$SWNS" link set "h$i" master br0 up
		ip -n "$ns" addr add "$addr/24" dev eth0
		ip -n "$ns" link set eth0 up

		ssh-keygen -q -t ed25519 -N '' -C "h$i" -f "$hd/ssh_host_ed25519_key"
		echo "h$i,$addr $(cut -d' ' -f1,2 "$hd/ssh_host_ed25519_key.pub")" >>"$LAB/known_hosts"
		cat >"$hd/sshd_config" <<-EOF
			ListenAddress $addr:22
			HostKey $hd/ssh_host_ed25519_key
			PidFile $hd/sshd.pid
			AuthorizedKeysFile $LAB/authorized_keys
			PermitRootLogin prohibit-password
			PubkeyAuthentication yes
			PasswordAuthentication no
			KbdInteractiveAuthentication no
			UsePAM no
			StrictModes no
			PrintMotd no
			PrintLastLog no
			UseDNS no
			MaxStartups 100:30:200
			MaxSessions 100
			ClientAliveInterval 0
			Subsystem sftp internal-sftp
			SetEnv SHLVL=1
		EOF
		# ip netns exec, unshare and sh all exec: $! is the sshd itself.
		setsid ip netns exec "$ns" unshare -m --propagation private sh -c '
			set -e
			mount --bind "$1/scratch" "$2"
			mount --bind "$1/cache" "$3/.cache"
			mount --bind "$1/tmp" /tmp
			exec "$4" -D -f "$1/sshd_config" -E "$1/sshd.log"
		' sshlab "$hd" "$SCRATCH" "$home" "$SSHD" </dev/null >/dev/null 2>"$hd/start.log" 9>&- &
		echo $! >"$hd/sshd.pid"
	done

	# Wait for every sshd to accept the lab's key (generous: the machine
	# may be busy).
	for i in $(seq 1 "$n"); do
		ok=
		for _ in $(seq 1 300); do
			if ssh -F "$LAB/ssh_config" -o ConnectTimeout=5 "h$i" true </dev/null 2>/dev/null; then
				ok=1
				break
			fi
			pid=$(cat "$LAB/h$i/sshd.pid")
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if [ -z "$ok" ]; then
			say "h$i: sshd does not answer"
			cat "$LAB/h$i/start.log" "$LAB/h$i/sshd.log" >&2 2>/dev/null || true
			false
		fi
	done
	trap - ERR
	cat "$LAB/lab.env"
}

case ${1:-} in
up)
	[ $# -eq 2 ] || die "usage: $prog up N"
	need_tools
	lock
	do_up "$2"
	;;
down)
	[ $# -eq 1 ] || die "usage: $prog down"
	[ "$(id -u)" = 0 ] || die "must run as root"
	lock
	do_down
	;;
status)
	[ -f "$LAB/lab.env" ] || die "lab $NAME is not up ($LAB/lab.env missing)"
	cat "$LAB/lab.env"
	;;
*)
	die "usage: $prog up N | down | status"
	;;
esac
