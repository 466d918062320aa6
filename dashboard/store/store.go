package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// Role is what an account may do; the dashboard maps roles to pages.
type Role string

// Roles, from most to least powerful.
const (
	Admin        Role = "admin"        // everything, including accounts and the access log
	Technician   Role = "technician"   // status, query log (addresses), lists, overrides, review requests
	Safeguarding Role = "safeguarding" // query log with full identity, devices, reports
	Viewer       Role = "viewer"       // reports only, without per-device tables
)

// Roles lists every role, most powerful first.
func Roles() []Role { return []Role{Admin, Technician, Safeguarding, Viewer} }

// ParseRole checks s names a role.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles() {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (want admin, technician, safeguarding or viewer)", s)
}

// Errors callers tell apart.
var (
	ErrNoUser     = errors.New("no such account")
	ErrUserExists = errors.New("account already exists")
	ErrBadLogin   = errors.New("wrong account name or password")
	ErrNoSession  = errors.New("no valid session")
	ErrNotFound   = errors.New("not found")
)

// userNameRE bounds account names to something safe to show and type.
var userNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// CheckUserName reports why name cannot be an account name.
func CheckUserName(name string) error {
	if !userNameRE.MatchString(name) {
		return fmt.Errorf("account name %q: use 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", name)
	}
	return nil
}

// Session lifetimes: a session ends after IdleTimeout without a request,
// and after MaxAge in any case.
const (
	IdleTimeout = 30 * time.Minute
	MaxAge      = 12 * time.Hour
	// touchEvery limits writes: last_seen moves at most this often.
	touchEvery = time.Minute
)

// Store is the open dashboard database. It is safe for concurrent use.
type Store struct {
	db     *sql.DB
	params hashParams
}

// Path returns the database file in the state directory dir.
func Path(dir string) string { return filepath.Join(dir, "dashboard.db") }

// Options tune a Store. The zero value means the defaults, which are what
// production uses; tests lower the hashing cost to stay fast.
type Options struct {
	HashMemoryKiB uint32 // argon2id memory (default 64 MiB)
	HashPasses    uint32 // argon2id passes (default 3)
}

// Open opens (creating) the database at path with the default options.
func Open(path string) (*Store, error) { return OpenWith(path, Options{}) }

// OpenWith opens (creating) the database at path.
func OpenWith(path string, opts Options) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("opening dashboard database: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("opening dashboard database %s: %w", path, err)
	}
	// One connection: writes are rare and small, and it rules out
	// SQLITE_BUSY between our own connections.
	db.SetMaxOpenConns(1)
	if err := migrate(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening dashboard database %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening dashboard database: %w", err)
	}
	p := defaultParams
	if opts.HashMemoryKiB > 0 {
		p.memory = opts.HashMemoryKiB
	}
	if opts.HashPasses > 0 {
		p.time = opts.HashPasses
	}
	return &Store{db: db, params: p}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// migrations[i] takes the schema from version i to i+1. Append only.
var migrations = []string{
	`CREATE TABLE users(
	name TEXT PRIMARY KEY,
	role TEXT NOT NULL,
	hash TEXT NOT NULL,
	created INTEGER NOT NULL,
	last_login INTEGER NOT NULL DEFAULT 0);
CREATE TABLE sessions(
	id TEXT PRIMARY KEY,
	user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
	csrf TEXT NOT NULL,
	addr TEXT NOT NULL,
	created INTEGER NOT NULL,
	last_seen INTEGER NOT NULL);
CREATE INDEX sessions_user ON sessions(user);
CREATE TABLE access_log(
	id INTEGER PRIMARY KEY,
	at INTEGER NOT NULL,
	user TEXT NOT NULL,
	addr TEXT NOT NULL,
	action TEXT NOT NULL,
	detail TEXT NOT NULL);
CREATE TABLE reviews(
	id INTEGER PRIMARY KEY,
	at INTEGER NOT NULL,
	client TEXT NOT NULL,
	host TEXT NOT NULL,
	reference TEXT NOT NULL,
	grp TEXT NOT NULL,
	category TEXT NOT NULL,
	message TEXT NOT NULL,
	closed_at INTEGER NOT NULL DEFAULT 0,
	closed_by TEXT NOT NULL DEFAULT '',
	note TEXT NOT NULL DEFAULT '');
CREATE INDEX reviews_client ON reviews(client, at);`,
	// The approver capability (approver.go).
	`ALTER TABLE users ADD COLUMN approver INTEGER NOT NULL DEFAULT 0;`,
}

func migrate(db *sql.DB) error {
	var v int
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this program understands (%d)", v, len(migrations))
	}
	for ; v < len(migrations); v++ {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
		if _, err := tx.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, v+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// User is one account.
type User struct {
	Name      string
	Role      Role
	Created   time.Time
	LastLogin time.Time // zero: never
}

// AddUser creates an account.
func (s *Store) AddUser(ctx context.Context, name string, role Role, password string, now time.Time) error {
	if err := CheckUserName(name); err != nil {
		return err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	hash, err := hashPassword(password, s.params)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO users(name, role, hash, created) VALUES (?, ?, ?, ?)`,
		name, string(role), hash, now.UnixNano())
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return fmt.Errorf("%s: %w", name, ErrUserExists)
		}
		return fmt.Errorf("adding account %s: %w", name, err)
	}
	return nil
}

// SetPassword changes an account's password and ends its sessions.
func (s *Store) SetPassword(ctx context.Context, name, password string) error {
	hash, err := hashPassword(password, s.params)
	if err != nil {
		return err
	}
	return s.updateUser(ctx, name, `UPDATE users SET hash = ? WHERE name = ?`, hash, name)
}

// SetRole changes an account's role and ends its sessions.
func (s *Store) SetRole(ctx context.Context, name string, role Role) error {
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	return s.updateUser(ctx, name, `UPDATE users SET role = ? WHERE name = ?`, string(role), name)
}

func (s *Store) updateUser(ctx context.Context, name, q string, args ...any) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("updating account %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", name, ErrNoUser)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user = ?`, name); err != nil {
		return err
	}
	return tx.Commit()
}

// RemoveUser deletes an account and its sessions. Removing the last admin
// is refused: nobody could then manage accounts from the dashboard.
func (s *Store) RemoveUser(ctx context.Context, name string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var role string
	if err := tx.QueryRowContext(ctx, `SELECT role FROM users WHERE name = ?`, name).Scan(&role); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%s: %w", name, ErrNoUser)
		}
		return err
	}
	if Role(role) == Admin {
		var admins int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE role = ?`, string(Admin)).Scan(&admins); err != nil {
			return err
		}
		if admins == 1 {
			return fmt.Errorf("%s is the last admin account; add another admin first", name)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE name = ?`, name); err != nil {
		return err
	}
	return tx.Commit()
}

// Users lists the accounts by name.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, role, created, last_login FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing accounts: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var u User
		var created, last int64
		if err := rows.Scan(&u.Name, &u.Role, &created, &last); err != nil {
			return nil, err
		}
		u.Created = unixTime(created)
		u.LastLogin = unixTime(last)
		out = append(out, u)
	}
	return out, rows.Err()
}

// dummyHash is checked when the account does not exist, so a login for an
// unknown name takes as long as one with a wrong password.
const dummyHash = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0c2FsdA$Z8wqTy9KcSJjbd2wI7SBk0VbRN7cI4lS1wGK8/W7ss8"

// Authenticate checks a name and password and records the login.
func (s *Store) Authenticate(ctx context.Context, name, password string, now time.Time) (User, error) {
	var u User
	var hash string
	var created, last int64
	err := s.db.QueryRowContext(ctx, `SELECT name, role, hash, created, last_login FROM users WHERE name = ?`, name).
		Scan(&u.Name, &u.Role, &hash, &created, &last)
	if errors.Is(err, sql.ErrNoRows) {
		checkPassword(password, dummyHash)
		return User{}, ErrBadLogin
	}
	if err != nil {
		return User{}, fmt.Errorf("checking login: %w", err)
	}
	ok, err := checkPassword(password, hash)
	if err != nil {
		return User{}, fmt.Errorf("checking login for %s: %w", name, err)
	}
	if !ok {
		return User{}, ErrBadLogin
	}
	u.Created = unixTime(created)
	u.LastLogin = now
	if _, err := s.db.ExecContext(ctx, `UPDATE users SET last_login = ? WHERE name = ?`, now.UnixNano(), name); err != nil {
		return User{}, err
	}
	return u, nil
}

// Session is a logged-in browser.
type Session struct {
	ID       string // hash of the token: safe to log and show
	User     string
	Role     Role
	CSRF     string // the token forms must echo
	Addr     string // client address at login
	Created  time.Time
	LastSeen time.Time
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenID(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// CreateSession starts a session for user and returns the token for the
// cookie; only its hash is stored.
func (s *Store) CreateSession(ctx context.Context, user, addr string, now time.Time) (string, Session, error) {
	token := randomToken()
	sess := Session{ID: tokenID(token), User: user, CSRF: randomToken(), Addr: addr, Created: now, LastSeen: now}
	if err := s.db.QueryRowContext(ctx, `SELECT role FROM users WHERE name = ?`, user).Scan(&sess.Role); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", Session{}, ErrNoUser
		}
		return "", Session{}, err
	}
	// Expired sessions are removed here, so the table stays small.
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE last_seen < ? OR created < ?`,
		now.Add(-IdleTimeout).UnixNano(), now.Add(-MaxAge).UnixNano()); err != nil {
		return "", Session{}, err
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions(id, user, csrf, addr, created, last_seen) VALUES (?, ?, ?, ?, ?, ?)`,
		sess.ID, user, sess.CSRF, addr, now.UnixNano(), now.UnixNano())
	if err != nil {
		return "", Session{}, fmt.Errorf("creating session: %w", err)
	}
	return token, sess, nil
}

// Session returns the live session for a cookie token, with the account's
// current role, and records the activity. Expired sessions are deleted.
func (s *Store) Session(ctx context.Context, token string, now time.Time) (Session, error) {
	if token == "" || len(token) > 100 {
		return Session{}, ErrNoSession
	}
	id := tokenID(token)
	sess := Session{ID: id}
	var created, seen int64
	err := s.db.QueryRowContext(ctx, `SELECT s.user, u.role, s.csrf, s.addr, s.created, s.last_seen
FROM sessions s JOIN users u ON u.name = s.user WHERE s.id = ?`, id).
		Scan(&sess.User, &sess.Role, &sess.CSRF, &sess.Addr, &created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("reading session: %w", err)
	}
	sess.Created, sess.LastSeen = unixTime(created), unixTime(seen)
	if now.Sub(sess.LastSeen) > IdleTimeout || now.Sub(sess.Created) > MaxAge {
		s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id)
		return Session{}, ErrNoSession
	}
	if now.Sub(sess.LastSeen) >= touchEvery {
		if _, err := s.db.ExecContext(ctx, `UPDATE sessions SET last_seen = ? WHERE id = ?`, now.UnixNano(), id); err != nil {
			return Session{}, err
		}
		sess.LastSeen = now
	}
	return sess, nil
}

// DeleteSession ends the session of a cookie token (logout).
func (s *Store) DeleteSession(ctx context.Context, token string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, tokenID(token))
	return err
}

func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
