package identity

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/fernet/fernet-go"
)

// KeyRing holds the Fernet keys tokens are signed with, kept as files in a
// directory the way Keystone's key repository is: "0" is the staged key,
// the highest number the primary (used to sign), the rest are secondary
// keys that still validate tokens. Rotate promotes the staged key, so every
// controller sharing the directory can validate new tokens before any signs
// with it.
type KeyRing struct {
	dir string
	max int

	mu      sync.RWMutex
	primary *fernet.Key
	all     []*fernet.Key // primary first
}

// LoadKeyRing reads the keys in dir, creating a staged and a primary key on
// first use. max is how many keys to keep (at least 3).
func LoadKeyRing(dir string, max int) (*KeyRing, error) {
	if max < 3 {
		max = 3
	}
	k := &KeyRing{dir: dir, max: max}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create token key directory: %w", err)
	}
	ids, err := k.ids()
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		for _, n := range []int{0, 1} {
			if err := k.write(n); err != nil {
				return nil, err
			}
		}
	}
	return k, k.reload()
}

func (k *KeyRing) ids() ([]int, error) {
	entries, err := os.ReadDir(k.dir)
	if err != nil {
		return nil, fmt.Errorf("read token key directory: %w", err)
	}
	var ids []int
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil && n >= 0 {
			ids = append(ids, n)
		}
	}
	sort.Ints(ids)
	return ids, nil
}

func (k *KeyRing) write(n int) error {
	var key fernet.Key
	if err := key.Generate(); err != nil {
		return err
	}
	tmp := filepath.Join(k.dir, fmt.Sprintf(".%d.tmp", n))
	if err := os.WriteFile(tmp, []byte(key.Encode()), 0o600); err != nil {
		return fmt.Errorf("write token key: %w", err)
	}
	return os.Rename(tmp, filepath.Join(k.dir, strconv.Itoa(n)))
}

func (k *KeyRing) reload() error {
	ids, err := k.ids()
	if err != nil {
		return err
	}
	var keys []*fernet.Key
	for i := len(ids) - 1; i >= 0; i-- {
		b, err := os.ReadFile(filepath.Join(k.dir, strconv.Itoa(ids[i])))
		if err != nil {
			return fmt.Errorf("read token key %d: %w", ids[i], err)
		}
		key, err := fernet.DecodeKey(strings.TrimSpace(string(b)))
		if err != nil {
			return fmt.Errorf("token key %s/%d is damaged: %w", k.dir, ids[i], err)
		}
		keys = append(keys, key)
	}
	if len(ids) < 2 {
		return fmt.Errorf("token key directory %s needs a staged (0) and a primary key; remove it to start afresh", k.dir)
	}
	k.mu.Lock()
	k.primary, k.all = keys[0], keys
	k.mu.Unlock()
	return nil
}

// Rotate promotes the staged key to primary, stages a new key and drops the
// oldest secondary keys beyond the limit. Tokens signed with a dropped key
// stop validating.
func (k *KeyRing) Rotate() error {
	ids, err := k.ids()
	if err != nil {
		return err
	}
	next := ids[len(ids)-1] + 1
	if err := os.Rename(filepath.Join(k.dir, "0"), filepath.Join(k.dir, strconv.Itoa(next))); err != nil {
		return fmt.Errorf("promote staged key: %w", err)
	}
	if err := k.write(0); err != nil {
		return err
	}
	ids, err = k.ids()
	if err != nil {
		return err
	}
	// ids[0] is the staged key; keep max keys in all.
	for len(ids) > k.max {
		if err := os.Remove(filepath.Join(k.dir, strconv.Itoa(ids[1]))); err != nil {
			return err
		}
		ids = append(ids[:1], ids[2:]...)
	}
	return k.reload()
}

func (k *KeyRing) sign(msg []byte) ([]byte, error) {
	k.mu.RLock()
	p := k.primary
	k.mu.RUnlock()
	return fernet.EncryptAndSign(msg, p)
}

func (k *KeyRing) open(tok []byte) []byte {
	k.mu.RLock()
	all := k.all
	k.mu.RUnlock()
	return fernet.VerifyAndDecrypt(tok, 0, all)
}
