package procmem

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ReleaseExecutablePages drops the executable's read-only mappings (code,
// read-only data, the function tables) from the process's page tables and
// marks them for random access (no read-ahead). Pages the process touches
// again come back one fault at a time; the rest stay out of its resident
// set.
//
// With evict, the executable's pages that no process maps any more are also
// dropped from the page cache, so a page touched later is read alone
// instead of being mapped with its cached neighbours (fault-around): the
// resident set becomes the pages in use. That costs a disk read per page
// first touched again, so evict suits a process that has finished starting.
//
// Writable mappings are never touched, nor read-only ones holding pages the
// process changed (the relocated GOT of a cgo binary is made read-only after
// the dynamic loader wrote it): dropping those would lose the changes.
// Safe to call at any time and more than once.
func ReleaseExecutablePages(evict bool) (Released, error) {
	var r Released
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return r, fmt.Errorf("find own executable: %w", err)
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return r, fmt.Errorf("read own mappings: %w", err)
	}
	r.ResidentBefore = rssFile()
	for _, m := range readOnlyMappings(smaps, exe) {
		// MADV_RANDOM first, so nothing is read ahead around the pages
		// faulted while the rest are dropped.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_RANDOM); errno != 0 {
			return r, fmt.Errorf("madvise(MADV_RANDOM) %x-%x: %w", m.start, m.end, errno)
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_DONTNEED); errno != 0 {
			return r, fmt.Errorf("madvise(MADV_DONTNEED) %x-%x: %w", m.start, m.end, errno)
		}
		r.Mappings++
	}
	if evict {
		// The kernel keeps pages some process still maps.
		f, err := os.Open("/proc/self/exe")
		if err != nil {
			return r, fmt.Errorf("open own executable: %w", err)
		}
		err = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		_ = f.Close()
		if err != nil {
			return r, fmt.Errorf("fadvise(FADV_DONTNEED) own executable: %w", err)
		}
	}
	r.ResidentAfter = rssFile()
	return r, nil
}

type mapping struct{ start, end uintptr }

// readOnlyMappings picks, from /proc/self/smaps, the private mappings of exe
// that cannot be written ("r-xp" and "r--p") and hold no page the process
// changed ("Anonymous: 0 kB").
func readOnlyMappings(smaps []byte, exe string) []mapping {
	var out []mapping
	var cur *mapping // the mapping being read, if it is a candidate
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "Anonymous:"); ok {
			if cur != nil && strings.TrimSpace(v) == "0 kB" {
				out = append(out, *cur)
			}
			cur = nil
			continue
		}
		// A header: address perms offset dev inode pathname. Field lines
		// ("Rss:  12 kB") have a colon in their first word.
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasSuffix(fields[0], ":") {
			continue
		}
		cur = nil
		if len(fields) < 6 || strings.Join(fields[5:], " ") != exe {
			continue
		}
		if perms := fields[1]; perms != "r-xp" && perms != "r--p" {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		cur = &mapping{uintptr(start), uintptr(end)}
	}
	return out
}

// rssFile reads RssFile from /proc/self/status, in bytes; 0 if unknown.
func rssFile() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
