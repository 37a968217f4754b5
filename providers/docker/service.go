package docker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"github.com/galera-swarm/galera-swarm/providers/internal/poll"
	"github.com/galera-swarm/galera-swarm/providers/internal/ptr"
	"github.com/galera-swarm/galera-swarm/providers/internal/schema"
)

// Service is `docker:index/service:Service` (providers/CONTRACT.md#docker-service): a swarm
// service, updated in place except for its name, its networks and a switch between
// replicated and global mode.
type Service struct{ host *dockerHost }

// pollInterval is how often Create/Update/Delete look at swarm while waiting. The official
// provider polls every 5 s; we poll every second so `pulumi up` ends as soon as tasks run.
const pollInterval = time.Second

// deleteGrace is added to the stop grace period when waiting for a removed service's tasks.
const deleteGrace = 30 * time.Second

// cleanupTimeout bounds removing a service that did not converge, so a failed create
// returns soon after the converge wait itself failed.
const cleanupTimeout = 30 * time.Second

// Annotate sets the token docker:index/service:Service.
func (Service) Annotate(a infer.Annotator) { a.SetToken("index/service", "Service") }

// Check refuses unsupported properties, fills the official defaults, autonames and
// validates what Docker would refuse (durations, numbers, mode conflicts).
func (Service) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[ServiceArgs], error) {
	args, failures, err := checkInputs[ServiceArgs](ctx, req.NewInputs, servicePaths)
	if err != nil || len(failures) > 0 {
		return infer.CheckResponse[ServiceArgs]{Inputs: args, Failures: failures}, err
	}
	applyServiceDefaults(&args)
	if err := checkName(&args.Name, req.NewInputs, req.OldInputs, req.Name); err != nil {
		return infer.CheckResponse[ServiceArgs]{}, err
	}
	// Unknown values (preview) decode as zero values: validate only complete inputs.
	if property.New(req.NewInputs).HasComputed() {
		return infer.CheckResponse[ServiceArgs]{Inputs: args}, nil
	}
	if failure := validateService(args); failure != nil {
		return infer.CheckResponse[ServiceArgs]{Inputs: args, Failures: []p.CheckFailure{*failure}}, nil
	}
	return infer.CheckResponse[ServiceArgs]{Inputs: args}, nil
}

// validateService returns the first thing Docker (or the converge wait) would refuse.
func validateService(args ServiceArgs) *p.CheckFailure {
	if args.ConvergeConfig != nil && args.Mode != nil && ptr.Deref(args.Mode.Global) {
		return &p.CheckFailure{Property: "convergeConfig", Reason: "convergeConfig conflicts with mode.global (only replicated services converge)"}
	}
	if c := args.ConvergeConfig; c != nil {
		for prop, v := range map[string]*string{"convergeConfig.delay": c.Delay, "convergeConfig.timeout": c.Timeout} {
			if _, err := durationField(prop, v); err != nil {
				return &p.CheckFailure{Property: prop, Reason: err.Error()}
			}
		}
	}
	if _, err := serviceSpec(args); err != nil {
		prop, _, _ := strings.Cut(err.Error(), ":")
		return &p.CheckFailure{Property: prop, Reason: err.Error()}
	}
	return nil
}

// serviceReplaces: what cannot change in place (providers/CONTRACT.md#docker-replacement;
// mode.global because Docker refuses to switch a service's mode).
func serviceReplaces(path string) bool {
	return path == "name" || path == "mode.global" ||
		path == "taskSpec.networksAdvanceds" || strings.HasPrefix(path, "taskSpec.networksAdvanceds[")
}

// Diff compares the stored inputs with the new ones; see serviceReplaces.
func (Service) Diff(ctx context.Context, req infer.DiffRequest[ServiceArgs, ServiceState]) (infer.DiffResponse, error) {
	return diffResponse(schema.Diff(req.State.ServiceArgs, req.Inputs, serviceReplaces), req.Inputs.Name, urnNameFrom(ctx)), nil
}

// Create creates the service and, with convergeConfig, waits until its tasks run; a service
// that does not converge is removed again and the error names the tasks' failures.
func (s Service) Create(ctx context.Context, req infer.CreateRequest[ServiceArgs]) (infer.CreateResponse[ServiceState], error) {
	if req.DryRun {
		return infer.CreateResponse[ServiceState]{Output: ServiceState{ServiceArgs: req.Inputs}}, nil
	}
	name := ptr.Deref(req.Inputs.Name)
	spec, err := serviceSpec(req.Inputs)
	if err != nil {
		return infer.CreateResponse[ServiceState]{}, fmt.Errorf("creating service %q: %w", name, err)
	}
	api, err := s.host.client()
	if err != nil {
		return infer.CreateResponse[ServiceState]{}, err
	}
	spec.Labels = withOwnLabels(spec.Labels, urnFrom(ctx), nil)
	created, err := api.ServiceCreate(ctx, spec, swarm.ServiceCreateOptions{QueryRegistry: true})
	if err != nil {
		if created.ID, err = adoptService(ctx, api, spec, urnFrom(ctx), err); err != nil {
			return infer.CreateResponse[ServiceState]{}, fmt.Errorf("creating service %q: %w", name, err)
		}
	}
	if c := req.Inputs.ConvergeConfig; c != nil && spec.Mode.Replicated != nil {
		if err := waitConverged(ctx, api, created.ID, *c); err != nil {
			// Bounded: on a host that just died this would otherwise wait out the ssh
			// reconnect attempts.
			cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			removeErr := api.ServiceRemove(cleanup, created.ID)
			cancel()
			if removeErr != nil && !cerrdefs.IsNotFound(removeErr) {
				err = fmt.Errorf("%w (removing it again also failed: %v)", err, removeErr)
			}
			return infer.CreateResponse[ServiceState]{}, fmt.Errorf("creating service %q: %w", name, err)
		}
	}
	state, found, err := readService(ctx, api, created.ID, req.Inputs)
	if err != nil || !found {
		if err == nil {
			err = errors.New("it disappeared right after creation")
		}
		return infer.CreateResponse[ServiceState]{ID: created.ID, Output: ServiceState{ServiceArgs: req.Inputs}},
			infer.ResourceInitFailedError{Reasons: []string{fmt.Sprintf("reading service %q after creating it: %v", name, err)}}
	}
	return infer.CreateResponse[ServiceState]{ID: created.ID, Output: ServiceState{ServiceArgs: state}}, nil
}

// adoptService handles a failed create (createErr): when a service of the wanted name exists
// and was created for the same resource (urn) by an interrupted run, it is updated to spec
// and its ID returned, so the create goes on with it (providers/CONTRACT.md#docker-adoption).
// A service of that name that is not ours fails with adoptable's message; when there is
// none, createErr is returned.
func adoptService(ctx context.Context, api client.APIClient, spec swarm.ServiceSpec, urn resource.URN, createErr error) (string, error) {
	existing, _, err := api.ServiceInspectWithRaw(ctx, spec.Name, swarm.ServiceInspectOptions{})
	if err != nil || existing.Spec.Name != spec.Name {
		return "", createErr
	}
	obj := existingObject{Kind: serviceKind, Name: spec.Name, ID: existing.ID, Labels: existing.Spec.Labels}
	if err := adoptable(obj, urn, nil, nil); err != nil {
		return "", err
	}
	p.GetLogger(ctx).Infof("adopting service %q (%s), which an interrupted run created for this resource", spec.Name, existing.ID)
	if _, err := api.ServiceUpdate(ctx, existing.ID, existing.Version, spec, swarm.ServiceUpdateOptions{QueryRegistry: true}); err != nil {
		return "", fmt.Errorf("adopting service %s left by an interrupted run: updating it to the wanted spec: %w", existing.ID, err)
	}
	return existing.ID, nil
}

// Update applies the new spec in place (with the inspected version) and, with
// convergeConfig, waits for swarm's rolling update to complete.
func (s Service) Update(ctx context.Context, req infer.UpdateRequest[ServiceArgs, ServiceState]) (infer.UpdateResponse[ServiceState], error) {
	if req.DryRun {
		return infer.UpdateResponse[ServiceState]{Output: ServiceState{ServiceArgs: req.Inputs}}, nil
	}
	name := ptr.Deref(req.Inputs.Name)
	spec, err := serviceSpec(req.Inputs)
	if err != nil {
		return infer.UpdateResponse[ServiceState]{}, fmt.Errorf("updating service %q: %w", name, err)
	}
	api, err := s.host.client()
	if err != nil {
		return infer.UpdateResponse[ServiceState]{}, err
	}
	current, _, err := api.ServiceInspectWithRaw(ctx, req.ID, swarm.ServiceInspectOptions{})
	if err != nil {
		return infer.UpdateResponse[ServiceState]{}, fmt.Errorf("updating service %q: inspecting it: %w", name, err)
	}
	// Keep (or, on a service created before the plugin set it, add) the owner label.
	spec.Labels = withOwnLabels(spec.Labels, urnFrom(ctx), nil)
	if _, err := api.ServiceUpdate(ctx, req.ID, current.Version, spec, swarm.ServiceUpdateOptions{QueryRegistry: true}); err != nil {
		return infer.UpdateResponse[ServiceState]{}, fmt.Errorf("updating service %q: %w", name, err)
	}
	if c := req.Inputs.ConvergeConfig; c != nil && spec.Mode.Replicated != nil {
		if err := waitUpdated(ctx, api, req.ID, *c, current.UpdateStatus); err != nil {
			return infer.UpdateResponse[ServiceState]{}, fmt.Errorf("updating service %q: %w", name, err)
		}
	}
	state, found, err := readService(ctx, api, req.ID, req.Inputs)
	if err != nil || !found {
		if err == nil {
			err = errors.New("it disappeared during the update")
		}
		return infer.UpdateResponse[ServiceState]{Output: ServiceState{ServiceArgs: req.Inputs}},
			infer.ResourceInitFailedError{Reasons: []string{fmt.Sprintf("reading service %q after updating it: %v", name, err)}}
	}
	return infer.UpdateResponse[ServiceState]{Output: ServiceState{ServiceArgs: state}}, nil
}

// Read refreshes the state from swarm; a service that is gone is dropped from the state.
func (s Service) Read(ctx context.Context, req infer.ReadRequest[ServiceArgs, ServiceState]) (infer.ReadResponse[ServiceArgs, ServiceState], error) {
	api, err := s.host.client()
	if err != nil {
		return infer.ReadResponse[ServiceArgs, ServiceState]{}, err
	}
	state, found, err := readService(ctx, api, req.ID, req.State.ServiceArgs)
	if err != nil {
		return infer.ReadResponse[ServiceArgs, ServiceState]{}, fmt.Errorf("reading service %s: %w", req.ID, err)
	}
	if !found {
		return infer.ReadResponse[ServiceArgs, ServiceState]{}, nil
	}
	return infer.ReadResponse[ServiceArgs, ServiceState]{ID: req.ID, Inputs: state, State: ServiceState{ServiceArgs: state}}, nil
}

// readService inspects a service and maps it onto prior's shape; found is false when swarm
// does not know it.
func readService(ctx context.Context, api client.APIClient, id string, prior ServiceArgs) (ServiceArgs, bool, error) {
	svc, _, err := api.ServiceInspectWithRaw(ctx, id, swarm.ServiceInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return ServiceArgs{}, false, nil
	}
	if err != nil {
		return ServiceArgs{}, false, err
	}
	networkID := func(ref string) string {
		// Users may name a network by name; swarm stores its ID.
		n, err := api.NetworkInspect(ctx, ref, network.InspectOptions{})
		if err != nil || n.ID == "" {
			return ref
		}
		return n.ID
	}
	return serviceArgsFrom(svc, prior, networkID), true, nil
}

// Delete removes the service and waits until its tasks are gone (stopGracePeriod + 30 s at
// most), so that networks, secrets and configs it used can be removed right after.
func (s Service) Delete(ctx context.Context, req infer.DeleteRequest[ServiceState]) (infer.DeleteResponse, error) {
	api, err := s.host.client()
	if err != nil {
		return infer.DeleteResponse{}, err
	}
	name := ptr.Deref(req.State.Name)
	if err := api.ServiceRemove(ctx, req.ID); err != nil && !cerrdefs.IsNotFound(err) {
		return infer.DeleteResponse{}, fmt.Errorf("removing service %q (%s): %w", name, req.ID, err)
	}
	grace, _ := durationField("stopGracePeriod", req.State.TaskSpec.ContainerSpec.StopGracePeriod)
	if grace == 0 {
		grace = 10 * time.Second // Docker's default stop timeout
	}
	deadline := time.Now().Add(grace + deleteGrace)
	for {
		remaining, err := tasksOf(ctx, api, req.ID)
		if err != nil {
			return infer.DeleteResponse{}, fmt.Errorf("waiting for the tasks of removed service %q to stop: %w", name, err)
		}
		// Swarm forgets a task a moment before the engine has removed its container; a
		// network or volume the container holds is busy until then. Only the containers on
		// the engine we talk to are visible: other nodes' are covered by their tasks.
		containers, err := localContainersOf(ctx, api, req.ID)
		if err != nil {
			return infer.DeleteResponse{}, fmt.Errorf("waiting for the containers of removed service %q to go: %w", name, err)
		}
		if len(remaining) == 0 && len(containers) == 0 {
			return infer.DeleteResponse{}, nil
		}
		if time.Now().After(deadline) {
			return infer.DeleteResponse{}, fmt.Errorf("removing service %q: %d task(s) and %d container(s) still present after %s",
				name, len(remaining), len(containers), grace+deleteGrace)
		}
		if err := poll.Sleep(ctx, pollInterval); err != nil {
			return infer.DeleteResponse{}, fmt.Errorf("waiting for the tasks of removed service %q: %w", name, err)
		}
	}
}

// localContainersOf lists the containers (running or not) of a service's tasks on the engine
// the provider is connected to, by the label swarm puts on them.
func localContainersOf(ctx context.Context, api client.APIClient, serviceID string) ([]container.Summary, error) {
	return api.ContainerList(ctx, container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", "com.docker.swarm.service.id="+serviceID))})
}

// tasksOf lists the tasks of a service. It lists all tasks and filters here, because the
// daemon's `service` filter fails once the service itself is removed.
func tasksOf(ctx context.Context, api client.APIClient, serviceID string) ([]swarm.Task, error) {
	all, err := api.TaskList(ctx, swarm.TaskListOptions{})
	if err != nil {
		return nil, err
	}
	var out []swarm.Task
	for _, t := range all {
		if t.ServiceID == serviceID {
			out = append(out, t)
		}
	}
	return out, nil
}

// convergeTimes gives the first-poll delay and the overall timeout of a checked converge
// config (Check filled both defaults and validated both durations).
func convergeTimes(c ConvergeConfig) (delay, timeout time.Duration, err error) {
	if delay, err = durationField("convergeConfig.delay", c.Delay); err != nil {
		return 0, 0, err
	}
	if timeout, err = durationField("convergeConfig.timeout", c.Timeout); err != nil {
		return 0, 0, err
	}
	return delay, timeout, nil
}

// waitConverged waits (first look after delay, then every pollInterval, until timeout) for
// every replica slot of the service to have a running task on a node that is not down. It
// gives up early when failingTasks says the tasks keep failing, quoting their last log
// lines (service_failfast.go).
//
// Health: swarm keeps a task whose container has a healthcheck in state `starting` until the
// first healthy result, and fails it when unhealthy (moby
// daemon/cluster/executor/container/controller.go, Start waits for the health_status
// event), so `running` already means healthy for such tasks.
func waitConverged(ctx context.Context, api client.APIClient, id string, c ConvergeConfig) error {
	delay, timeout, err := convergeTimes(c)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	if err := poll.Sleep(ctx, delay); err != nil {
		return err
	}
	for {
		svc, _, err := api.ServiceInspectWithRaw(ctx, id, swarm.ServiceInspectOptions{})
		if err != nil {
			return fmt.Errorf("inspecting service %s while waiting for it to run: %w", id, err)
		}
		running, tasks, err := runningReplicas(ctx, api, id)
		if err != nil {
			return err
		}
		want := desiredReplicas(svc)
		if running >= want {
			return nil
		}
		if reason := failingTasks(tasks); reason != "" {
			err := fmt.Errorf("service cannot converge, its tasks keep failing (%d of %d replicas running): %s", running, want, reason)
			if logs := serviceLogTail(ctx, api, id, logTailLines); logs != "" {
				err = fmt.Errorf("%w; last log lines of its tasks:\n%s", err, logs)
			}
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("service did not converge after %s: %d of %d replicas running%s", timeout, running, want, taskFailures(tasks))
		}
		if err := poll.Sleep(ctx, pollInterval); err != nil {
			return err
		}
	}
}

func desiredReplicas(svc swarm.Service) int {
	if svc.Spec.Mode.Replicated != nil && svc.Spec.Mode.Replicated.Replicas != nil {
		return int(*svc.Spec.Mode.Replicated.Replicas)
	}
	return 0
}

// runningReplicas counts slots with a running task whose desired state is running, on a
// node that is not down (the official provider's rule,
// providers/CONTRACT.md#docker-converge). It also returns the tasks.
func runningReplicas(ctx context.Context, api client.APIClient, id string) (int, []swarm.Task, error) {
	tasks, err := api.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", id))})
	if err != nil {
		return 0, nil, fmt.Errorf("listing tasks of service %s: %w", id, err)
	}
	nodes, err := api.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return 0, nil, fmt.Errorf("listing swarm nodes: %w", err)
	}
	down := map[string]bool{}
	for _, n := range nodes {
		down[n.ID] = n.Status.State == swarm.NodeStateDown
	}
	return countRunning(tasks, down), tasks, nil
}

// countRunning is the counting rule of runningReplicas: one per slot.
func countRunning(tasks []swarm.Task, nodeDown map[string]bool) int {
	slots := map[int]bool{}
	for _, t := range tasks {
		if t.DesiredState == swarm.TaskStateRunning && t.Status.State == swarm.TaskStateRunning && !nodeDown[t.NodeID] {
			slots[t.Slot] = true
		}
	}
	return len(slots)
}

// taskFailures describes the failed, rejected or stuck tasks (newest per slot) for an error
// message: "slot 2 on node abc: rejected: no suitable node (...)".
func taskFailures(tasks []swarm.Task) string {
	newest := map[int]swarm.Task{}
	for _, t := range tasks {
		if t.Status.State == swarm.TaskStateRunning {
			continue
		}
		if was, ok := newest[t.Slot]; !ok || t.Status.Timestamp.After(was.Status.Timestamp) {
			newest[t.Slot] = t
		}
	}
	if len(newest) == 0 {
		return ""
	}
	slots := make([]int, 0, len(newest))
	for slot := range newest {
		slots = append(slots, slot)
	}
	sort.Ints(slots)
	var lines []string
	for _, slot := range slots {
		t := newest[slot]
		node := t.NodeID
		if node == "" {
			node = "(unassigned)"
		}
		why := t.Status.Message
		if t.Status.Err != "" {
			why = why + ": " + t.Status.Err
		}
		lines = append(lines, fmt.Sprintf("slot %d on node %s: %s: %s", slot, node, t.Status.State, why))
	}
	return "; task states: " + strings.Join(lines, "; ")
}

// waitUpdated waits for swarm's rolling update: first look after delay, then every
// pollInterval until timeout. Done when the update status is `completed`, or when there is
// no new update status (spec changes that restart no task) and all replicas run. Fails on
// `paused` and on any rollback state, with swarm's message.
func waitUpdated(ctx context.Context, api client.APIClient, id string, c ConvergeConfig, before *swarm.UpdateStatus) error {
	delay, timeout, err := convergeTimes(c)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	if err := poll.Sleep(ctx, delay); err != nil {
		return err
	}
	for {
		svc, _, err := api.ServiceInspectWithRaw(ctx, id, swarm.ServiceInspectOptions{})
		if err != nil {
			return fmt.Errorf("inspecting service %s while waiting for its update: %w", id, err)
		}
		done, err := updateOutcome(svc.UpdateStatus, before)
		if err != nil {
			return err
		}
		running, tasks, err := runningReplicas(ctx, api, id)
		if err != nil {
			return err
		}
		if done == updateDone || done == updateNone && running >= desiredReplicas(svc) {
			return nil
		}
		if time.Now().After(deadline) {
			state := "no update status"
			if svc.UpdateStatus != nil {
				state = string(svc.UpdateStatus.State) + ": " + svc.UpdateStatus.Message
			}
			return fmt.Errorf("update did not complete after %s (%s; %d of %d replicas running)%s", timeout, state, running, desiredReplicas(svc), taskFailures(tasks))
		}
		if err := poll.Sleep(ctx, pollInterval); err != nil {
			return err
		}
	}
}

type updateProgress int

const (
	updateNone updateProgress = iota // no update status, or still the one from before ours
	updateRunning
	updateDone
)

// updateOutcome reads swarm's update status (before is the status prior to our update).
func updateOutcome(status, before *swarm.UpdateStatus) (updateProgress, error) {
	if status == nil || before != nil && sameUpdateStatus(status, before) {
		return updateNone, nil
	}
	switch status.State {
	case swarm.UpdateStateCompleted:
		return updateDone, nil
	case swarm.UpdateStatePaused, swarm.UpdateStateRollbackStarted, swarm.UpdateStateRollbackPaused, swarm.UpdateStateRollbackCompleted:
		return updateNone, fmt.Errorf("swarm's update ended in state %s: %s", status.State, status.Message)
	}
	return updateRunning, nil
}

func sameUpdateStatus(a, b *swarm.UpdateStatus) bool {
	if a.State != b.State || a.Message != b.Message || (a.StartedAt == nil) != (b.StartedAt == nil) {
		return false
	}
	return a.StartedAt == nil || a.StartedAt.Equal(*b.StartedAt)
}
