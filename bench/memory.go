package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// memInfo is a process's memory as Linux reports it in /proc/PID/status.
type memInfo struct {
	RSS  int64 `json:"rss_bytes"`  // VmRSS: resident now
	Peak int64 `json:"peak_bytes"` // VmHWM: highest resident so far
}

func readMem(pid int) (memInfo, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memInfo{}, err
	}
	return parseStatus(string(data))
}

// parseStatus reads VmRSS and VmHWM from the text of /proc/PID/status.
func parseStatus(s string) (memInfo, error) {
	var m memInfo
	var found bool
	for line := range strings.Lines(s) {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return m, fmt.Errorf("unexpected %s line %q", key, strings.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return m, fmt.Errorf("parse %s: %w", key, err)
		}
		if key == "VmRSS" {
			m.RSS, found = kb*1024, true
		} else {
			m.Peak = kb * 1024
		}
	}
	if !found {
		return m, errors.New("no VmRSS line (kernel thread or exited process?)")
	}
	return m, nil
}

// listenerPID finds the process listening on TCP port p, by matching the
// socket inode in /proc/net/tcp{,6} against the processes' open files. It
// only sees processes this user may inspect.
func listenerPID(p int) (int, error) {
	var inodes []string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		inodes = append(inodes, listenInodes(string(data), p)...)
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("no listening socket on port %d", p)
	}
	want := make(map[string]bool, len(inodes))
	for _, ino := range inodes {
		want["socket:["+ino+"]"] = true
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range procs {
		fds, err := os.ReadDir(dir + "/fd")
		if err != nil {
			continue // another user's process, or gone
		}
		for _, fd := range fds {
			target, err := os.Readlink(dir + "/fd/" + fd.Name())
			if err == nil && want[target] {
				return strconv.Atoi(filepath.Base(dir))
			}
		}
	}
	return 0, fmt.Errorf("port %d is listening but its process is not visible to this user; pass -memory-pid", p)
}

// listenInodes returns the socket inodes in a /proc/net/tcp table that
// listen on port p.
func listenInodes(table string, p int) []string {
	const stateListen = "0A"
	var out []string
	sc := bufio.NewScanner(strings.NewReader(table))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		if len(f) < 10 || f[3] != stateListen {
			continue
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		lp, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil || int(lp) != p {
			continue
		}
		out = append(out, f[9])
	}
	return out
}

// resolvePID turns the -memory-pid flag into a pid: "" means off (0),
// "auto" means whoever listens on the target's port.
func resolvePID(flag string, targetPort int) (int, error) {
	switch flag {
	case "":
		return 0, nil
	case "auto":
		return listenerPID(targetPort)
	}
	pid, err := strconv.Atoi(flag)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("-memory-pid %q: want a process id or \"auto\"", flag)
	}
	return pid, nil
}

func formatBytes(b int64) string {
	return fmt.Sprintf("%.1f MiB (%.1f MB)", float64(b)/(1<<20), float64(b)/1e6)
}
