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
// binary, kept in the user's cache directory (~/.cache/mrpipe/mrrun-SHA256).
// The session's shell prints the host's `uname -sm`, which must match, and
// whether it has that build; if it has, it runs it as the worker in the
// same session. If not, that session ends, a second one copies the binary
// (checked and renamed into place, as [SSH.Install] does) and a third one
// runs the worker. The worker ([Serve], `mrrun worker`, [WorkerMain]) makes a
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
// with [MaxHostFailures] failed attempts is excluded for the job. Each
// attempt's result or error names its host (job.Result.Host,
// job.HostError), which _job.json shows. A map task's split is streamed
// to the host. -file files are sent to each host once and are the tasks'
// working directory.
//
// File data (splits, map and reduce outputs, relayed partitions) travel
// in 1 MiB chunks, each as an S2 block when S2 saves an eighth of it, else
// as it is: over ssh, whose encryption costs more CPU per byte than S2,
// text goes in about a fifth of its bytes; part files, S2 already, pass
// with no second compression.
//
// # Shuffle
//
// A map task's output stays in its worker's scratch directory (mode
// 0700), under a key: only its manifest comes back into the attempt's
// directory, with a location file ([LocationName]: host, worker, key).
// A reduce task gets, for partition p of every map output, the manifest
// from the driver and the part file relayed by the driver from the host
// that keeps it (a fetch request there whose file frames the driver
// forwards into the reduce request), or, when the reducer's host keeps
// it, linked from its own scratch directory (among the least busy
// hosts, a reduce task goes to the one keeping most of its input). Frames
// go through 1 MiB pipes. The reduce side's merge
// verifies every partition against its manifest.
//
// With direct shuffle (--shuffle direct, HostOptions.Direct) the driver
// makes a token for the job ([NewToken]) and sends it to every worker,
// which serves the map outputs it keeps on a listener of its own
// ([ServeMapOutputs], on all interfaces; scratch/maps holds them as
// [MapOutputName](n)) and answers with the address the driver's ssh
// session reached it at ([AdvertiseAddr]). A reduce task then gets, for
// each map output kept on another host, that host's address and the
// output's number, and fetches its partition from there itself
// ([Fetcher]), verified as it arrives; the driver relays nothing. A
// host whose listener cannot start, or that knows no address, has its
// partitions relayed, with a warning. Map-only outputs and
// reduce outputs come back to the driver.
//
// # Faults
//
// A lost host loses its running attempts, which the job retries, and the
// map outputs it kept: a reduce attempt that needs them returns a
// *job.LostMapsError (before it starts, or when a relay from the lost
// host breaks, or when a direct fetch from a host fails or gets a
// partition that does not match its manifest), and the job runs those
// map tasks again.
// Map outputs of an earlier driver (--resume) are gone with its workers.

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
// Requests: Work (files for the tasks' working directory), Map, Reduce,
// Fetch (a file of a map output the worker keeps) and Direct (the job's
// token: serve the map outputs, fetch with it; the answer is the
// listener's address). A reduce request lists the partitions the worker
// reads in place and those it fetches from other hosts; its result names
// the maps it could not fetch.
package remote
