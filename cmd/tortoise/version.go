package main

import (
	"fmt"
	"io"

	"github.com/tortoise-dev/tortoise"
)

func runVersion(w io.Writer) error {
	_, err := fmt.Fprintf(w, "tortoise %s\n", tortoise.Version)
	return err
}
