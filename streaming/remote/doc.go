// Package remote runs mrrun's tasks on other hosts over SSH.
//
// # Hosts
//
// Hosts are given in GNU parallel's sshlogin syntax ([ParseLogins],
// [ReadHostfile]): "h1,user@h2:2222,4/h3", N/ for N task slots (default:
// the host's CPUs), ":" for the local machine. They are reached with the
// system's ssh client ([SSH]), in BatchMode, so the user's ~/.ssh/config,
// agent, known_hosts and ControlMaster apply; --ssh replaces the command
// ("ssh -F cfg -i key"). Host keys are checked as ssh is configured to
// check them.
//
// # Workers
//
// [Start] runs one worker per host over one ssh session: the driver's own
// binary, copied first into the user's cache directory
// (~/.cache/mrpipe/mrrun-SHA256) when the host lacks that build
// ([SSH.Install]: `uname -sm` must match, the copy is checked and renamed
// into place). The worker ([Serve], `mrrun worker`, [WorkerMain]) makes a
// scratch directory (mode 0700), sends a heartbeat every second and runs
// the tasks it is sent with the same code as local mode (job.Local). When
// its stdin ends (the driver closed the session, or the session broke) or
// it gets SIGINT, SIGTERM or SIGHUP, it stops its commands, removes its
// scratch directory and exits. A host whose session ends or that stays
// silent for the host timeout is lost; if it can still be reached, the
// driver kills what is left of the worker's session there and removes its
// scratch directory.
//
// # Tasks
//
// [Runner] is a job.Runner: each attempt goes to a host with a free slot,
// a retry preferably to another host than the failed attempt's; a host
// with [MaxHostFailures] failed attempts is excluded for the job. Data is
// relayed through the driver: a map task's split is streamed to the host
// and its output files come back into the attempt's directory; a reduce
// task receives partition p of every map output (part file and manifest,
// verified by the reduce side's merge) and sends its output back. -file
// files are sent to each host once and are the tasks' working directory.
//
// # Command lines
//
// Every command line a remote shell reads is built by [Quote], which is
// fuzz-tested against sh.
//
// # Protocol
//
// Driver and worker exchange frames on the worker's stdin and stdout: a
// type byte, a request id and a length (big-endian uint32 each), then the
// payload (JSON messages, or file data in chunks of at most 1 MiB).
package remote
