package config_test

import (
	"testing"
	"time"

	"github.com/tortoise-dev/tortoise/config"
)

func TestReadLimitsFromEnv(t *testing.T) {
	t.Parallel()
	d := config.Config{}.WithDefaults()
	if d.QueryTimeout != 5*time.Second || d.MaxFilteredReads != 2 {
		t.Errorf("defaults: query timeout %v, max filtered reads %d", d.QueryTimeout, d.MaxFilteredReads)
	}
	env := map[string]string{"TORTOISE_QUERY_TIMEOUT": "-1s", "TORTOISE_MAX_FILTERED_READS": "-1"}
	c, err := config.Config{}.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if c = c.WithDefaults(); c.QueryTimeout != -time.Second || c.MaxFilteredReads != -1 {
		t.Errorf("off from env: %v, %d", c.QueryTimeout, c.MaxFilteredReads)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("validate: %v", err)
	}
	for name, bad := range map[string]string{"TORTOISE_QUERY_TIMEOUT": "5", "TORTOISE_MAX_FILTERED_READS": "few"} {
		if _, err := (config.Config{}).FromEnv(func(k string) (string, bool) { return bad, k == name }); err == nil {
			t.Errorf("%s=%q accepted", name, bad)
		}
	}
	if err := (config.Config{MaxFilteredReads: -2}).WithDefaults().Validate(); err == nil {
		t.Error("max filtered reads -2 accepted")
	}
}
