package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("bin", "bin/handler", "handler `BINARY` to start")
	runs := flag.Int("n", 15, "number of starts")
	policy := flag.String("policy", "examples/policy.yaml", "policy `FILE` (AUTOPILOT_POLICY_FILE)")
	settle := flag.Duration("settle", 500*time.Millisecond, "how long after the first answer the second RSS sample is taken")
	timeout := flag.Duration("timeout", 10*time.Second, "give up on a start after this long")
	flag.Parse()
	if err := run(*bin, *policy, *runs, *settle, *timeout, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "measurestart:", err)
		os.Exit(1)
	}
}

// sample is one start.
type sample struct {
	ready            time.Duration
	rssReady, rssSet mem
}

// mem is the resident memory of the process in KiB: all of it, and its
// anonymous part (heap, stacks: what the process allocated). The rest is
// the binary's pages mapped from the page cache, which depends on how the
// file got there (the same bytes copied elsewhere can map a different
// amount), so compare builds by anon.
type mem struct{ rss, anon int64 }

func run(bin, policy string, n int, settle, timeout time.Duration, out io.Writer) error {
	if n < 1 {
		return fmt.Errorf("-n %d: need at least one run", n)
	}
	st, err := os.Stat(bin)
	if err != nil {
		return fmt.Errorf("-bin: %w", err)
	}
	pol, err := filepath.Abs(policy)
	if err != nil {
		return fmt.Errorf("-policy: %w", err)
	}
	if _, err := os.Stat(pol); err != nil {
		return fmt.Errorf("-policy: %w", err)
	}
	// A first start to warm the page cache, not counted.
	if _, err := start(bin, pol, 0, timeout); err != nil {
		return err
	}
	var ss []sample
	for range n {
		s, err := start(bin, pol, settle, timeout)
		if err != nil {
			return err
		}
		ss = append(ss, s)
	}
	ready := make([]time.Duration, len(ss))
	var r1, r2, a1, a2 []int64
	for i, s := range ss {
		ready[i] = s.ready
		r1, r2 = append(r1, s.rssReady.rss), append(r2, s.rssSet.rss)
		a1, a2 = append(a1, s.rssReady.anon), append(a2, s.rssSet.anon)
	}
	slices.Sort(ready)
	for _, x := range [][]int64{r1, r2, a1, a2} {
		slices.Sort(x)
	}
	fmt.Fprintf(out, "binary           %s: %d bytes\n", bin, st.Size())
	fmt.Fprintf(out, "exec -> first /  median %v (min %v, max %v) over %d starts\n",
		ready[len(ready)/2].Round(10*time.Microsecond), ready[0].Round(10*time.Microsecond), ready[len(ready)-1].Round(10*time.Microsecond), n)
	line := func(what string, v []int64) {
		fmt.Fprintf(out, "%-17s median %.1f MiB (min %.1f, max %.1f)\n", what, mib(v[len(v)/2]), mib(v[0]), mib(v[len(v)-1]))
	}
	line("RSS at first /", r1)
	line("  anon", a1)
	line(fmt.Sprintf("RSS %v later", settle), r2)
	line("  anon", a2)
	return nil
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

// start starts the handler in serve mode on a free port, waits for the
// first answer on "/", samples its RSS, and stops it with SIGTERM.
func start(bin, policy string, settle, timeout time.Duration) (sample, error) {
	port, err := freePort()
	if err != nil {
		return sample{}, err
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"FUNCTIONS_CUSTOMHANDLER_PORT="+strconv.Itoa(port),
		"AUTOPILOT_POLICY_FILE="+policy,
		"ServiceBus__fullyQualifiedNamespace=measure-start.servicebus.windows.net",
		"AUTOPILOT_LOG_LEVEL=error",
	)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return sample{}, fmt.Errorf("start %s: %w", bin, err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	var s sample
	for {
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			s.ready = time.Since(t0)
			break
		}
		if time.Since(t0) > timeout {
			return sample{}, fmt.Errorf("%s did not answer %s within %v: %v (stderr: %s)", bin, url, timeout, err, stderr.String())
		}
		time.Sleep(200 * time.Microsecond)
	}
	if s.rssReady, err = rss(cmd.Process.Pid); err != nil {
		return sample{}, err
	}
	if settle > 0 {
		time.Sleep(settle)
		if s.rssSet, err = rss(cmd.Process.Pid); err != nil {
			return sample{}, err
		}
	}
	return s, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// rss reads VmRSS and RssAnon (KiB) of pid from /proc.
func rss(pid int) (mem, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return mem{}, fmt.Errorf("RSS needs /proc (Linux): %w", err)
	}
	var m mem
	found := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		name, v, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "RssAnon") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return mem{}, fmt.Errorf("/proc/%d/status %s: %w", pid, name, err)
		}
		if name == "VmRSS" {
			m.rss = n
		} else {
			m.anon = n
		}
		found++
	}
	if found != 2 {
		return mem{}, errors.New("no VmRSS and RssAnon in /proc status")
	}
	return m, nil
}
