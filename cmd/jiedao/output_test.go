package main

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// -o onto a FIFO (like /dev/null or /dev/stdout, not a regular file) is
// written into, never replaced by a renamed temp file; onto a regular file
// the temp-and-rename stays.
func TestWriteOutKeepsNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	got := make(chan []byte)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- nil
			return
		}
		b, _ := io.ReadAll(f)
		f.Close()
		got <- b
	}()
	if err := writeOut(fifo, nil, func(w io.Writer) error { _, err := io.WriteString(w, "hello"); return err }); err != nil {
		t.Fatal(err)
	}
	if b := <-got; string(b) != "hello" {
		t.Fatalf("reader got %q", b)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the FIFO was replaced: %v %v", fi.Mode(), err)
	}
	reg := filepath.Join(dir, "out.txt")
	if err := writeOut(reg, nil, func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(reg); err != nil || string(b) != "x" {
		t.Fatalf("regular file: %q %v", b, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("%d entries left in the folder, want the FIFO and the file (no temp files)", len(entries))
	}
}
