package store

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters (RFC 9106 section 4, the second recommended option,
// with less memory): 64 MiB and 3 passes cost about 0.1-0.3 s on a
// Raspberry Pi 3, acceptable for a login and expensive for an attacker
// holding a copy of the database. They are stored with each hash, so they
// can be raised later without invalidating existing passwords.
type hashParams struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
}

var defaultParams = hashParams{memory: 64 * 1024, time: 3, threads: 2}

const (
	saltLen = 16
	keyLen  = 32
	// MinPasswordLen is the shortest password accepted (NCSC guidance
	// favours length over composition rules).
	MinPasswordLen = 10
	// maxPasswordLen bounds the work a hostile login form can cause.
	maxPasswordLen = 1024
)

// ErrWeakPassword is returned for a password that is too short.
var ErrWeakPassword = fmt.Errorf("password must be at least %d characters", MinPasswordLen)

// hashPassword returns the PHC-style string
// $argon2id$v=19$m=65536,t=3,p=2$salt$key.
func hashPassword(password string, p hashParams) (string, error) {
	if len(password) < MinPasswordLen {
		return "", ErrWeakPassword
	}
	if len(password) > maxPasswordLen {
		return "", fmt.Errorf("password longer than %d bytes", maxPasswordLen)
	}
	salt := make([]byte, saltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, keyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memory, p.time, p.threads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

var errBadHash = errors.New("unrecognised password hash")

// checkPassword reports whether password matches the stored hash, in time
// independent of where the first difference is.
func checkPassword(password, stored string) (bool, error) {
	parts := strings.Split(stored, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	var p hashParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil ||
		p.memory == 0 || p.memory > 1<<22 || p.time == 0 || p.time > 100 || p.threads == 0 {
		return false, errBadHash
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 128 {
		return false, errBadHash
	}
	if len(password) > maxPasswordLen {
		return false, nil
	}
	got := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
