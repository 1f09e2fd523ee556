package image

import (
	"crypto/md5"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// FileStore keeps image data as one file per image under a directory:
// DIR/<id> for stored data, DIR/staging/<id> for data staged for import,
// and DIR/tmp for transfers in flight, which are renamed into place only
// when complete. Image ids are UUIDs checked by the service, so they are
// safe as file names.
type FileStore struct {
	dir string
}

// NewFileStore creates the directories under dir when missing.
func NewFileStore(dir string) (*FileStore, error) {
	for _, d := range []string{dir, filepath.Join(dir, "staging"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create image directory: %w", err)
		}
	}
	return &FileStore{dir: dir}, nil
}

// Dir is the directory the store keeps data in.
func (f *FileStore) Dir() string { return f.dir }

// Path is where the stored data of image id lives.
func (f *FileStore) Path(id string) string { return filepath.Join(f.dir, id) }

// StagePath is where data staged for import of image id lives.
func (f *FileStore) StagePath(id string) string { return filepath.Join(f.dir, "staging", id) }

// Open opens the stored data of image id.
func (f *FileStore) Open(id string) (*os.File, error) { return os.Open(f.Path(id)) }

// Remove deletes the stored and staged data of image id; missing files are
// not an error.
func (f *FileStore) Remove(id string) error {
	return errors.Join(removeMissingOK(f.Path(id)), removeMissingOK(f.StagePath(id)))
}

// RemoveStaged deletes the staged data of image id.
func (f *FileStore) RemoveStaged(id string) error { return removeMissingOK(f.StagePath(id)) }

func removeMissingOK(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// CleanTemp removes every file left in the temporary directory (by
// transfers of a process that stopped) and returns how many it removed.
func (f *FileStore) CleanTemp() (int, error) {
	ents, err := os.ReadDir(filepath.Join(f.dir, "tmp"))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if err := os.Remove(filepath.Join(f.dir, "tmp", e.Name())); err == nil {
			n++
		}
	}
	return n, nil
}

// create opens a new temporary file for a transfer.
func (f *FileStore) create() (*os.File, error) {
	return os.CreateTemp(filepath.Join(f.dir, "tmp"), "transfer-*")
}

// commit makes tmp durable and renames it to dst, so dst either does not
// exist or holds complete data, whatever happens to the process.
func (f *FileStore) commit(tmp *os.File, dst string) error {
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(dst)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// digest is what a transfer learns about the data it moves: its size, md5
// (Glance's checksum), sha512 (os_hash_value) and the first bytes, enough
// to read a qcow2 header.
type digest struct {
	size   int64
	md5    string
	sha512 string
	head   []byte
}

const (
	headSize  = 512
	chunkSize = 1 << 20
	// slots is how many chunks may be in flight between the reader and
	// the hashers.
	slots = 4
)

// chunk is one buffer sent to a hasher; done is released once per hasher.
type chunk struct {
	b    []byte
	done *sync.WaitGroup
}

// bufPool holds transfer buffers, slots at a time.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, slots*chunkSize)
	return &b
}}

// copyHashed copies r into w and returns the digest of what it copied.
// Before each chunk is written it calls progress with the total so far,
// which may refuse the chunk by returning an error. Three goroutines
// consume each chunk — the writer, md5 and sha512 — while the next chunk
// is read, so a transfer runs at the pace of its slowest stage, not of the
// sum of them.
func copyHashed(w io.Writer, r io.Reader, progress func(total int64) error) (digest, error) {
	pooled := bufPool.Get().(*[]byte)
	var (
		d      digest
		wgs    [slots]sync.WaitGroup
		hashes = [2]hash.Hash{md5.New(), sha512.New()}
		chans  [3]chan chunk
		ran    sync.WaitGroup
		werr   error // the writer's first error, read after ran.Wait or a slot's Wait
		failed atomic.Bool
	)
	consume := func(c chan chunk, write func([]byte)) {
		defer ran.Done()
		for k := range c {
			write(k.b)
			k.done.Done()
		}
	}
	for i := range chans {
		chans[i] = make(chan chunk, slots)
		ran.Add(1)
	}
	go consume(chans[0], func(b []byte) { hashes[0].Write(b) })
	go consume(chans[1], func(b []byte) { hashes[1].Write(b) })
	go consume(chans[2], func(b []byte) {
		if werr == nil {
			if _, werr = w.Write(b); werr != nil {
				failed.Store(true)
			}
		}
	})
	stop := func() error {
		for _, c := range chans {
			close(c)
		}
		ran.Wait()
		bufPool.Put(pooled)
		return werr
	}
	for i := 0; ; i++ {
		slot := i % slots
		wgs[slot].Wait() // every consumer is done with this buffer
		if failed.Load() {
			return digest{}, stop()
		}
		buf := (*pooled)[slot*chunkSize : (slot+1)*chunkSize]
		n, rerr := fill(r, buf)
		if n > 0 {
			if err := progress(d.size + int64(n)); err != nil {
				stop()
				return digest{}, err
			}
			if len(d.head) < headSize {
				d.head = append(d.head, buf[:min(headSize-len(d.head), n)]...)
			}
			d.size += int64(n)
			wgs[slot].Add(len(chans))
			for _, c := range chans {
				c <- chunk{b: buf[:n], done: &wgs[slot]}
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			stop()
			return digest{}, &readError{rerr}
		}
	}
	if err := stop(); err != nil {
		return digest{}, err
	}
	d.md5 = hex.EncodeToString(hashes[0].Sum(nil))
	d.sha512 = hex.EncodeToString(hashes[1].Sum(nil))
	return d, nil
}

// readError is a failure to read the data being copied (the client's
// connection, not the store).
type readError struct{ err error }

func (e *readError) Error() string { return "read image data: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// fill reads into buf until it is full, the stream ends (io.EOF, with
// whatever came before it) or fails. Unlike io.ReadFull it passes a
// truncated stream's io.ErrUnexpectedEOF through as a failure: an HTTP body
// cut short must not pass for a complete image.
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

// virtualSize is the size a disk of the given format presents to a guest:
// the data size for raw and iso, the header's size for qcow2, unknown
// (nil) otherwise.
func virtualSize(diskFormat *string, d digest) *int64 {
	if diskFormat == nil {
		return nil
	}
	switch *diskFormat {
	case "raw", "iso":
		n := d.size
		return &n
	case "qcow2":
		if len(d.head) >= 32 && string(d.head[:4]) == "QFI\xfb" {
			n := int64(binary.BigEndian.Uint64(d.head[24:32]))
			if n >= 0 {
				return &n
			}
		}
	}
	return nil
}
