package clustersoak

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// builds runs `go build -a` of the load's packages in a loop until ctx
// ends, the load a developer's compile puts beside the cluster: -a
// recompiles every package, standard library included, each time.
type builds struct {
	done       chan struct{}
	ok, failed int
	cut        bool // a build was running when the soak ended
}

func startBuilds(ctx context.Context, o Options, log *slog.Logger) *builds {
	b := &builds{done: make(chan struct{})}
	if len(o.BuildPackages) == 0 {
		close(b.done)
		return b
	}
	args := []string{"build", "-a", "-o", os.DevNull}
	if o.BuildJobs > 0 {
		args = append(args, "-p", strconv.Itoa(o.BuildJobs))
	}
	args = append(args, o.BuildPackages...)
	go func() {
		defer close(b.done)
		for ctx.Err() == nil {
			begin := time.Now()
			cmd := exec.CommandContext(ctx, "go", args...)
			cmd.Dir = o.BuildDir
			out, err := cmd.CombinedOutput()
			switch {
			case ctx.Err() != nil:
				b.cut = true
				return
			case err != nil:
				b.failed++
				log.Error("go build failed", "error", err, "output", string(out))
				if b.failed > 3*(b.ok+1) {
					return // a build that cannot work; the report says so
				}
			default:
				b.ok++
				log.Info("go build finished", "took", time.Since(begin).Round(time.Second), "builds", b.ok)
			}
		}
	}()
	return b
}

// wait waits for the loop to end and fills in its part of the report.
func (b *builds) wait(rep *Report) {
	<-b.done
	rep.Builds, rep.BuildFailures, rep.BuildCut = b.ok, b.failed, b.cut
}

// rollouts rolls each of the soak's Deployments out to a new image, one
// rollout after another, until ctx ends.
type rollouts struct {
	wg    sync.WaitGroup
	mu    sync.Mutex
	took  []time.Duration
	stuck int
	err   error
}

func startRollouts(ctx context.Context, cs kubernetes.Interface, o Options, log *slog.Logger) *rollouts {
	r := &rollouts{}
	for i := range o.Deployments {
		name := fmt.Sprintf("web-%d", i)
		r.wg.Go(func() {
			for gen := 1; ctx.Err() == nil; gen++ {
				begin := time.Now()
				done, err := rollout(ctx, cs, name, int32(o.Replicas), gen, o.RolloutTimeout)
				if ctx.Err() != nil {
					return
				}
				r.mu.Lock()
				switch {
				case err != nil:
					r.err = errors.Join(r.err, err)
				case done:
					r.took = append(r.took, time.Since(begin))
				default:
					r.stuck++
					log.Warn("rollout stuck", "deployment", name, "generation", gen, "timeout", o.RolloutTimeout)
				}
				r.mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	return r
}

// wait waits for the rollouts to end and fills in r's part of the report.
func (r *rollouts) wait(rep *Report) {
	r.wg.Wait()
	slices.Sort(r.took)
	rep.Rollouts, rep.Stuck = len(r.took), r.stuck
	if n := len(r.took); n > 0 {
		rep.RolloutP50, rep.Slowest = r.took[n/2], r.took[n-1]
	}
}

// rollout applies Deployment name with image tag gen and waits until it is
// rolled out by `kubectl rollout status`'s rules: observed, every replica
// updated and available, no old replica left. It reports false when that
// did not happen within timeout; an error means the API refused the
// Deployment.
func rollout(ctx context.Context, cs kubernetes.Interface, name string, replicas int32, gen int, timeout time.Duration) (bool, error) {
	d := deployment(name, fmt.Sprintf("registry.example/%s:%d", name, gen), replicas)
	api := cs.AppsV1().Deployments(Namespace)
	var err error
	if gen == 1 {
		d, err = api.Create(ctx, d, metav1.CreateOptions{})
	} else {
		d, err = api.Update(ctx, d, metav1.UpdateOptions{})
	}
	if err != nil {
		return false, fmt.Errorf("roll out %s: %w", name, err)
	}
	generation := d.Generation
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		d, err := api.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil // a slow API server is what the soak measures
		}
		s := d.Status
		return s.ObservedGeneration >= generation && s.UpdatedReplicas == replicas &&
			s.Replicas == replicas && s.AvailableReplicas == replicas && s.UnavailableReplicas == 0, nil
	})
	return err == nil, nil
}

// deployment returns a Deployment of replicas pods running image.
func deployment(name, image string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: Namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "web", Image: image,
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				}}},
			},
		},
	}
}
