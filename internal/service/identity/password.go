package identity

import (
	"golang.org/x/crypto/bcrypt"
)

// DefaultHashCost is the bcrypt cost for passwords and application
// credential secrets: 2^10 rounds, ~60 ms per check on these machines.
// Keystone's default is 12 (~250 ms); hashes of any cost verify.
const DefaultHashCost = 10

// hashSecret hashes a password or secret. bcrypt reads only the first 72
// bytes, so longer secrets are refused by validation before they get here.
func (s *Service) hashSecret(secret string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(secret), s.cfg.HashCost)
	return string(h), err
}

// dummyHash is checked against when a user does not exist, so that an
// unknown name costs as much time as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("onestack-no-such-user"), DefaultHashCost)

func checkSecret(hash, secret string) bool {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(secret))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(secret)) == nil
}
