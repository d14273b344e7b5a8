// Command releaser releases its own executable's pages and then does what
// the ferry agent does after it: make threads (pthread_create through the
// GOT the dynamic loader relocated) and print. TestExternalLinking builds
// it linked the way the ferry binary is.
package main

import (
	"fmt"
	"os"
	_ "plugin" // as Kustomize's plugin loader makes the ferry binary: dynamically linked Go, GOT entries relocated at load
	"runtime"
	"sync"

	"github.com/ferrycd/ferry/internal/procmem"
)

func main() {
	for _, evict := range []bool{false, true} {
		r, err := procmem.ReleaseExecutablePages(evict)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				runtime.LockOSThread() // the thread exits with the goroutine: new ones each round
				_ = make([]byte, 1<<20)
			})
		}
		wg.Wait()
		fmt.Printf("evict=%v mappings=%d\n", evict, r.Mappings)
	}
}
