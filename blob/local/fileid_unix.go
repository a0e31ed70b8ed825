//go:build unix

package local

import (
	"io/fs"
	"syscall"
)

// fileID returns the inode number of the file fi describes: a renamed
// file keeps it, and two files that exist at once never share it.
func fileID(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
