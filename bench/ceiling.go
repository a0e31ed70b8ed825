package main

import (
	"bufio"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ceilingBodyEnv names, in a child process of the load generator, the
// file whose bytes it serves as the ceiling-proc server.
const ceilingBodyEnv = "TORTOISE_BENCH_CEILING_BODY"

// startCeilingProcess runs startCeiling's server in a child process (this
// binary again, told so by ceilingBodyEnv) and returns its address. The
// child ends when stop closes its standard input, or when this process
// dies and the pipe closes with it.
func startCeilingProcess(body []byte) (u *url.URL, stop func(), err error) {
	dir, err := os.MkdirTemp("", "bench-ceiling")
	if err != nil {
		return nil, nil, fmt.Errorf("ceiling process: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	file := filepath.Join(dir, "body.json")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		return nil, nil, fmt.Errorf("ceiling process: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, nil, fmt.Errorf("ceiling process: %w", err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), ceilingBodyEnv+"="+file)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, fmt.Errorf("ceiling process: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, fmt.Errorf("ceiling process: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("ceiling process: %w", err)
	}
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		addr <- strings.TrimSpace(line)
	}()
	stop = func() {
		stdin.Close()
		_ = cmd.Wait()
		os.RemoveAll(dir)
	}
	select {
	case a := <-addr:
		if a == "" {
			stop()
			return nil, nil, fmt.Errorf("ceiling process: it gave no address")
		}
		return &url.URL{Scheme: "http", Host: a}, stop, nil
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		stop()
		return nil, nil, fmt.Errorf("ceiling process: no address after 10s")
	}
}

// serveCeilingChild returns at once unless ceilingBodyEnv is set. Then
// this process is startCeilingProcess's child: it serves the file's bytes
// as startCeiling does, prints the address, and exits when its standard
// input closes.
func serveCeilingChild() {
	file := os.Getenv(ceilingBodyEnv)
	if file == "" {
		return
	}
	body, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: ceiling process:", err)
		os.Exit(1)
	}
	u, stop, err := startCeiling(body)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: ceiling process:", err)
		os.Exit(1)
	}
	fmt.Println(u.Host)
	_, _ = io.Copy(io.Discard, os.Stdin)
	stop()
	os.Exit(0)
}
