package shuffle

import "io"

// NewReader is [Part.Open] over the part file's bytes read from r instead
// of from pt.Path: a copy arriving over the network, verified as it is
// received. It decompresses and verifies format, records, bytes and
// checksum as Open does; the file size is not checked (r is not a file),
// so the caller counts what it received against Info.FileBytes. Errors
// name pt.Path. Closing the reader does not close r.
func (pt *Part) NewReader(r io.Reader) (io.ReadCloser, error) {
	return pt.newReader(r, nopCloser{})
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
