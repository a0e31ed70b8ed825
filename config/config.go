// Package config holds Tortoise's configuration: one explicit struct, its
// defaults, its validation, and the one table mapping TORTOISE_* environment
// variables onto it.
package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Config configures a Tortoise server. The zero value plus WithDefaults is a
// working embedded setup.
type Config struct {
	// HTTP is the address to listen on. Default "127.0.0.1:8090".
	HTTP string
	// Dir is the data folder: the SQLite database and, later, files and
	// backups. Default "./tortoise_data".
	Dir string
	// DatabaseURL selects PostgreSQL when it starts with postgres:// or
	// postgresql://; empty (the default) means SQLite in Dir.
	DatabaseURL string
	// MaxBodyBytes caps request bodies. Default 32 MiB.
	MaxBodyBytes int64
	// LogLevel is debug, info, warn or error. Default "info".
	LogLevel string
	// EncryptionKey encrypts secrets kept in the settings (the SMTP
	// password). Any string; a 32-byte key is derived from it. Default:
	// on SQLite, a random key kept in the file .encryption_key in Dir; on
	// PostgreSQL none, and such secrets cannot be saved until it is set
	// (every process must share it).
	EncryptionKey string
}

// Env maps each TORTOISE_* environment variable onto its Config field. It is
// the one place environment variables are read.
var Env = []struct {
	Name  string
	Usage string
	set   func(*Config, string) error
}{
	{"TORTOISE_HTTP", "address to listen on", func(c *Config, v string) error { c.HTTP = v; return nil }},
	{"TORTOISE_DIR", "data folder", func(c *Config, v string) error { c.Dir = v; return nil }},
	{"TORTOISE_DATABASE_URL", "PostgreSQL URL (empty: SQLite in the data folder)", func(c *Config, v string) error { c.DatabaseURL = v; return nil }},
	{"TORTOISE_MAX_BODY_BYTES", "largest request body accepted", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("TORTOISE_MAX_BODY_BYTES: %q is not a number", v)
		}
		c.MaxBodyBytes = n
		return nil
	}},
	{"TORTOISE_LOG_LEVEL", "debug, info, warn or error", func(c *Config, v string) error { c.LogLevel = v; return nil }},
	{"TORTOISE_ENCRYPTION_KEY", "key for secrets in the settings (default on SQLite: a key file in the data folder)", func(c *Config, v string) error { c.EncryptionKey = v; return nil }},
}

// FromEnv applies the TORTOISE_* variables that are set, using lookup
// (os.LookupEnv when nil).
func (c Config) FromEnv(lookup func(string) (string, bool)) (Config, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	for _, e := range Env {
		if v, ok := lookup(e.Name); ok && v != "" {
			if err := e.set(&c, v); err != nil {
				return c, err
			}
		}
	}
	return c, nil
}

// WithDefaults fills every unset field with its default.
func (c Config) WithDefaults() Config {
	if c.HTTP == "" {
		c.HTTP = "127.0.0.1:8090"
	}
	if c.Dir == "" {
		c.Dir = "tortoise_data"
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 32 << 20
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	return c
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.HTTP); err != nil {
		return fmt.Errorf("http address %q: want host:port", c.HTTP)
	}
	if c.Dir == "" {
		return fmt.Errorf("data folder must be set")
	}
	if c.DatabaseURL != "" && !c.IsPostgres() {
		return fmt.Errorf("database URL must start with postgres:// or postgresql://")
	}
	if c.MaxBodyBytes < 1024 {
		return fmt.Errorf("max body bytes must be at least 1024")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log level %q: want debug, info, warn or error", c.LogLevel)
	}
	return nil
}

// IsPostgres reports whether the database is PostgreSQL.
func (c Config) IsPostgres() bool {
	u := strings.ToLower(c.DatabaseURL)
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// SQLitePath is where the embedded database lives.
func (c Config) SQLitePath() string { return filepath.Join(c.Dir, "data.db") }
