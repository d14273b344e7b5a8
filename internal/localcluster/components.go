package localcluster

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// launch generates the cluster's keys and kubeconfigs on fresh ports, starts
// the processes in dependency order and waits until the cluster is ready.
// The processes are recorded in c.state as they start, so Stop finds them
// whatever happens.
func (c *Cluster) launch(ctx context.Context) error {
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	c.state.Ports = Ports{Etcd: ports[0], EtcdPeer: ports[1], APIServer: ports[2]}
	c.state.Server = "https://127.0.0.1:" + strconv.Itoa(c.state.Ports.APIServer)
	c.state.StartedAt = time.Now().UTC()
	if c.pki == nil {
		if c.pki, err = newPKI(c.dir); err != nil {
			return err
		}
	}
	for _, kc := range []struct {
		file string
		id   identity
	}{
		{"kubeconfig", c.pki.admin}, {"controller-manager.kubeconfig", c.pki.kcm},
		{"scheduler.kubeconfig", c.pki.sched}, {"kwok.kubeconfig", c.pki.kwok},
	} {
		if err := writeKubeconfig(filepath.Join(c.dir, kc.file), c.state.Server, c.pki.caPEM, kc.id); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(logsDir(c.dir), 0o700); err != nil {
		return fmt.Errorf("create logs dir: %w", err)
	}

	etcdURL := "http://127.0.0.1:" + strconv.Itoa(c.state.Ports.Etcd)
	if err := c.run("etcd", c.etcdArgs(etcdURL), nil); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "etcd to be healthy", "etcd", func(ctx context.Context) (bool, error) {
		return httpOK(ctx, etcdURL+"/health"), nil
	}); err != nil {
		return err
	}
	if err := c.run("kube-apiserver", c.apiserverArgs(etcdURL), nil); err != nil {
		return err
	}
	cs, err := c.Clientset()
	if err != nil {
		return err
	}
	if err := c.waitFor(ctx, "the API server's /readyz", "kube-apiserver", func(ctx context.Context) (bool, error) {
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil, nil
	}); err != nil {
		return err
	}
	if err := c.run("kube-controller-manager", c.controllerManagerArgs(), nil); err != nil {
		return err
	}
	if err := c.run("kube-scheduler", c.schedulerArgs(), nil); err != nil {
		return err
	}
	own, err := writeOwnStages(filepath.Join(c.dir, "kwok", "stages"))
	if err != nil {
		return err
	}
	if err := c.run("kwok", c.kwokArgs(own), []string{"KWOK_WORKDIR=" + filepath.Join(c.dir, "kwok")}); err != nil {
		return err
	}
	if err := createNodes(ctx, cs, c.state.Nodes); err != nil {
		return err
	}
	return c.waitReady(ctx, cs)
}

// run starts one component and records it.
func (c *Cluster) run(name string, args, env []string) error {
	dir := filepath.Join(c.dir, name)
	if name == "kube-apiserver" || name == "kube-controller-manager" || name == "kube-scheduler" {
		dir = filepath.Join(c.dir, name[len("kube-"):])
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	p, err := startProcess(name, filepath.Join(c.binDir, name), args, env, dir,
		filepath.Join(logsDir(c.dir), name+".log"), c.state.Detached)
	if err != nil {
		return err
	}
	c.state.Processes = append(c.state.Processes, p)
	c.log.Debug("local cluster process started", "name", name, "pid", p.PID)
	return c.saveState()
}

// freePorts returns n distinct loopback ports that were free a moment ago.
// All listeners are held open together so the kernel cannot hand out one
// port twice.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// httpOK reports whether GET url answers 200 within a second.
func httpOK(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
