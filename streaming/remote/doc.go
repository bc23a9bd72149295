// Package remote runs mrrun's tasks on other hosts over SSH: it starts
// one `mrrun worker` per host through the system's ssh client, ships the
// driver's own binary to a host that lacks it, and builds every remote
// command line with [Quote].
package remote
