package object

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"sync"
)

// Content is an object's data as a GET streams it: a file, or the
// segments of a large object read in turn.
type Content interface {
	// WriteRange writes bytes [off, off+n) of the content to w.
	WriteRange(ctx context.Context, w io.Writer, off, n int64) error
	Close() error
}

// fileContent is a stored object's data file.
type fileContent struct{ f *os.File }

// copyBufs are the buffers data is copied through: large enough that a
// GET costs few system calls per MiB.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// onlyWriter hides a writer's ReadFrom, so io.CopyBuffer uses our buffer.
type onlyWriter struct{ io.Writer }

// onlyReader hides a reader's WriteTo, for the same reason.
type onlyReader struct{ io.Reader }

func (c fileContent) WriteRange(ctx context.Context, w io.Writer, off, n int64) error {
	if rf, ok := w.(io.ReaderFrom); ok {
		// An HTTP response copies a file to its socket with sendfile(2)
		// when it is given the file itself (limited to n bytes).
		if _, err := c.f.Seek(off, io.SeekStart); err != nil {
			return err
		}
		got, err := rf.ReadFrom(io.LimitReader(c.f, n))
		if err == nil && got < n {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	got, err := io.CopyBuffer(onlyWriter{w}, onlyReader{io.NewSectionReader(c.f, off, n)}, *buf)
	if err == nil && got < n {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (c fileContent) Close() error { return c.f.Close() }

// ErrClientGone is a request body that ended before its Content-Length
// (the client disconnected): Swift answers 499.
var ErrClientGone = errors.New("client disconnected before sending the whole body")

// readError is a failure to read the request body.
type readError struct{ err error }

func (e *readError) Error() string { return "read request body: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

const (
	chunkSize = 1 << 20
	slots     = 4
)

var chunkBufs = sync.Pool{New: func() any { b := make([]byte, slots*chunkSize); return &b }}

// copyMD5 copies src into dst while hashing it with MD5, at most limit
// bytes (a longer src is an error from tooLong). The MD5 and the write
// run beside the next read, so a PUT goes at the pace of its slowest
// stage rather than the sum of them.
func copyMD5(dst io.Writer, src io.Reader, limit int64, tooLong func() error) (int64, string, error) {
	pooled := chunkBufs.Get().(*[]byte)
	defer chunkBufs.Put(pooled)
	h := md5.New()
	type chunk struct {
		b    []byte
		done *sync.WaitGroup
	}
	var (
		hashC  = make(chan chunk, slots)
		writeC = make(chan chunk, slots)
		wg     [slots]sync.WaitGroup
		ran    sync.WaitGroup
		werr   error
		failed = make(chan struct{})
		once   sync.Once
	)
	ran.Add(2)
	go func() {
		defer ran.Done()
		for c := range hashC {
			h.Write(c.b)
			c.done.Done()
		}
	}()
	go func() {
		defer ran.Done()
		for c := range writeC {
			if werr == nil {
				if _, werr = dst.Write(c.b); werr != nil {
					once.Do(func() { close(failed) })
				}
			}
			c.done.Done()
		}
	}()
	stop := func() {
		close(hashC)
		close(writeC)
		ran.Wait()
	}
	var total int64
	for i := 0; ; i++ {
		slot := i % slots
		wg[slot].Wait()
		select {
		case <-failed:
			stop()
			return total, "", werr
		default:
		}
		buf := (*pooled)[slot*chunkSize : (slot+1)*chunkSize]
		n, rerr := fill(src, buf)
		if n > 0 {
			if total+int64(n) > limit {
				stop()
				return total, "", tooLong()
			}
			total += int64(n)
			wg[slot].Add(2)
			hashC <- chunk{buf[:n], &wg[slot]}
			writeC <- chunk{buf[:n], &wg[slot]}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			stop()
			return total, "", &readError{rerr}
		}
	}
	stop()
	if werr != nil {
		return total, "", werr
	}
	return total, hex.EncodeToString(h.Sum(nil)), nil
}

// fill reads into buf until it is full or the stream ends or fails; a
// body cut short (io.ErrUnexpectedEOF) is a failure, not an end.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
