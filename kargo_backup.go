package kargo

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/kalisio/kargo/services/pgbackup"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// backupPoll is how often backup and restore look at the tasks they wait for.
var backupPoll = 500 * time.Millisecond

// backupJob returns the backup job of the stack named name, or its only one when name is empty.
func (c *cli) backupJob(name string) (*stack.Service, error) {
	var jobs []*stack.Service
	for _, s := range c.st.Services {
		if s != nil && s.Labels[pgbackup.LabelRole] == pgbackup.Role && (name == "" || s.Name == name) {
			jobs = append(jobs, s)
		}
	}
	switch {
	case len(jobs) == 1:
		return jobs[0], nil
	case name != "":
		return nil, &UsageError{Err: fmt.Errorf("stack %q has no backup job %q", c.st.Name, name)}
	case len(jobs) == 0:
		return nil, &UsageError{Err: fmt.Errorf("stack %q has no backup job (add one with pgbackup.New)", c.st.Name)}
	}
	names := make([]string, len(jobs))
	for i, j := range jobs {
		names[i] = j.Name
	}
	return nil, &UsageError{Err: fmt.Errorf("stack %q has several backup jobs (%s): choose one with --job", c.st.Name, strings.Join(names, ", "))}
}

func (c *cli) backupCmd() *cobra.Command {
	var job, copyTo string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Run the stack's PostGIS backup job now and wait for its dump",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			j, err := c.backupJob(job)
			if err != nil {
				return err
			}
			_, e, err := c.applier()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			res, err := runBackup(ctx, e, c.st.Name, j.Name, c.o.Stderr)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.o.Stdout, "stack %s: %s: %s of database %s in volume %s\n", c.st.Name, j.Name, res,
				j.Labels[pgbackup.LabelDatabase], j.Labels[pgbackup.LabelVolume])
			if copyTo == "" {
				return nil
			}
			n, err := copyOut(ctx, e, c.st.Name, j.Name, res.Name, copyTo)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.o.Stdout, "copied %s to %s (%s)\n", res.Name, copyTo, pgbackup.HumanSize(n))
			return nil
		},
	}
	cmd.Flags().StringVar(&copyTo, "copy-to", "", "also copy the dump to this local file (from the job's container: on the node kargo talks to)")
	cmd.Flags().StringVar(&job, "job", "", "the backup job to run, when the stack has several")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "how long to wait for the dump")
	return cmd
}

func (c *cli) restoreCmd() *cobra.Command {
	var job, from string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "restore [NAME]",
		Short: "Restore a dump of the backup volume (default: the latest) into the running database",
		Long: "Restore a dump of the backup volume (default: the latest) into the running database.\n\n" +
			"The scheduler is paused (no scheduled job starts) and the services marked as writers of the\n" +
			"database (pgbackup.MarkWriter) are scaled to 0; pg_restore --clean --if-exists runs in one\n" +
			"transaction in a one-off job; then everything is put back as it was.\n\n" +
			"With --from FILE, the local dump FILE (pg_dump -Fc, e.g. written by backup --copy-to) is first\n" +
			"copied into the backup volume as upload-<time>.dump (through the container of the job's last\n" +
			"run, on the node kargo talks to; retention leaves it alone), then restored.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			j, err := c.backupJob(job)
			if err != nil {
				return err
			}
			name := "latest"
			if from != "" && len(args) == 1 {
				return &UsageError{Err: fmt.Errorf("give a dump NAME or --from FILE, not both")}
			}
			if len(args) == 1 {
				name = args[0]
				if strings.ContainsAny(name, "/ ") || strings.HasPrefix(name, ".") {
					return &UsageError{Err: fmt.Errorf("%q is not a dump name (see the dumps with status)", name)}
				}
			}
			_, e, err := c.applier()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if from != "" {
				if name, err = copyIn(ctx, e, c.st.Name, j.Name, from); err != nil {
					return err
				}
				fmt.Fprintf(c.o.Stdout, "copied %s into the backup volume as %s\n", from, name)
			}
			return runRestore(ctx, e, c.st.Name, j, name, c.o.Stdout, c.o.Stderr)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "restore this local dump file (pg_dump -Fc), copied into the backup volume first")
	cmd.Flags().StringVar(&job, "job", "", "the backup job whose volume and database to use, when the stack has several")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "how long to wait for the restore")
	return cmd
}

// runBackup starts a run of the backup job service <stackName>_<job> the way the scheduler
// does (run labels and a forced update, after any run still going), waits for it and
// returns the result its last log line gives.
func runBackup(ctx context.Context, e Engine, stackName, job string, progress io.Writer) (pgbackup.Result, error) {
	full := stackName + "_" + job
	fail := func(err error) (pgbackup.Result, error) {
		return pgbackup.Result{}, fmt.Errorf("stack %q: service %q: %w", stackName, job, err)
	}
	insp, err := e.ServiceInspect(ctx, full, client.ServiceInspectOptions{})
	if err != nil {
		if errdefs.IsNotFound(err) {
			return fail(errors.New("not deployed: apply the stack first"))
		}
		return fail(err)
	}
	if err := waitIdle(ctx, e, insp.Service.ID, progress, job); err != nil {
		return fail(err)
	}
	// Inspect again: the version moves when the scheduler starts a run.
	insp, err = e.ServiceInspect(ctx, full, client.ServiceInspectOptions{})
	if err != nil {
		return fail(err)
	}
	svc := insp.Service
	spec := svc.Spec
	labels := make(map[string]string, len(spec.Labels)+3)
	for k, v := range spec.Labels {
		labels[k] = v
	}
	// The run labels, written as the scheduler writes them: `status` shows a run started by
	// hand like a scheduled one.
	start := time.Now().UTC()
	labels[stack.LabelRunLast] = start.Format(time.RFC3339)
	labels[stack.LabelRunResult] = stack.RunRunning
	runs, _ := strconv.Atoi(labels[stack.LabelRunRuns])
	labels[stack.LabelRunRuns] = strconv.Itoa(runs + 1)
	spec.Labels = labels
	spec.TaskTemplate.ForceUpdate++
	if _, err := e.ServiceUpdate(ctx, svc.ID, client.ServiceUpdateOptions{Version: svc.Version, Spec: spec}); err != nil {
		return fail(fmt.Errorf("start a run: %w", err))
	}
	fmt.Fprintf(progress, "service %s: backup run started\n", full)
	if err := waitJob(ctx, e, full); err != nil {
		return fail(err)
	}
	res, err := lastResult(ctx, e, stackName, job, "backup", start.Add(-time.Second))
	if err != nil {
		return fail(err)
	}
	if res.Result != "succeeded" {
		return res, fmt.Errorf("stack %q: service %q: %s", stackName, job, res)
	}
	return res, nil
}

// runRestore pauses the writers of the job's database, restores the dump name in a one-off
// job cloned from the backup job (same image, network, secret and volume), puts the writers
// back and says what it did on out.
func runRestore(ctx context.Context, e Engine, stackName string, job *stack.Service, name string, out, progress io.Writer) (err error) {
	db := job.Labels[pgbackup.LabelDatabase]
	fail := func(err error) error { return fmt.Errorf("stack %q: restore %s into %s: %w", stackName, name, db, err) }
	insp, err := e.ServiceInspect(ctx, stackName+"_"+job.Name, client.ServiceInspectOptions{})
	if err != nil {
		if errdefs.IsNotFound(err) {
			return fail(fmt.Errorf("backup job %s is not deployed: apply the stack first", job.Name))
		}
		return fail(err)
	}
	backupSpec := insp.Service.Spec

	// Pause what writes: the scheduler (no scheduled job starts) and the marked writers.
	list, err := e.ServiceList(ctx, client.ServiceListOptions{Filters: client.Filters{}.Add("label", stack.LabelNamespace+"="+stackName)})
	if err != nil {
		return fail(fmt.Errorf("list services: %w", err))
	}
	var paused []scaled
	defer func() {
		// Put everything back, even when the restore failed or was interrupted.
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		for _, p := range paused {
			if serr := scale(bctx, e, p.name, p.replicas); serr != nil {
				err = errors.Join(err, fail(fmt.Errorf("scale %s back to %d: %w", p.name, p.replicas, serr)))
				continue
			}
			fmt.Fprintf(out, "%s scaled back to %d\n", p.name, p.replicas)
		}
	}()
	for _, s := range list.Items {
		role, writes := s.Spec.Labels[stack.LabelRole], s.Spec.Labels[pgbackup.LabelWrites]
		if (role != "scheduler" && writes != db) || s.Spec.Mode.Replicated == nil || s.Spec.Mode.Replicated.Replicas == nil {
			continue
		}
		n := *s.Spec.Mode.Replicated.Replicas
		if n == 0 {
			continue
		}
		if err := scale(ctx, e, s.Spec.Name, 0); err != nil {
			return fail(fmt.Errorf("scale %s to 0: %w", s.Spec.Name, err))
		}
		paused = append(paused, scaled{s.Spec.Name, n})
		why := "writes into " + db
		if role == "scheduler" {
			why = "no scheduled job starts"
		}
		fmt.Fprintf(out, "%s scaled from %d to 0 (%s)\n", s.Spec.Name, n, why)
	}
	if len(paused) == 0 {
		fmt.Fprintf(out, "no scheduler nor service marked as writing into %s to pause\n", db)
	}
	// Wait until the paused services' tasks and every job still running have stopped.
	for _, s := range list.Items {
		isPaused := slices.ContainsFunc(paused, func(p scaled) bool { return p.name == s.Spec.Name })
		if isPaused || s.Spec.Mode.ReplicatedJob != nil || s.Spec.Mode.GlobalJob != nil {
			if err := waitIdle(ctx, e, s.ID, progress, s.Spec.Name); err != nil {
				return fail(err)
			}
		}
	}

	restoreName := job.Name + "-restore"
	full := stackName + "_" + restoreName
	if err := removeService(ctx, e, full); err != nil {
		return fail(err)
	}
	spec := backupSpec
	spec.Name = full
	spec.Labels = map[string]string{stack.LabelNamespace: stackName, stack.LabelName: restoreName, stack.LabelRole: "pgbackup-restore"}
	cs := *spec.TaskTemplate.ContainerSpec
	cs.Args = []string{"restore", name}
	spec.TaskTemplate.ContainerSpec = &cs
	spec.TaskTemplate.ForceUpdate = 0
	// A failed restore changed nothing (one transaction) and is not retried.
	spec.TaskTemplate.RestartPolicy = &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone}
	one := uint64(1)
	spec.Mode = swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{MaxConcurrent: &one, TotalCompletions: &one}}
	start := time.Now().UTC()
	if _, err := e.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: spec}); err != nil {
		return fail(fmt.Errorf("create the restore job: %w", err))
	}
	fmt.Fprintf(progress, "service %s: restore of %s started\n", full, name)
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if rerr := removeService(rctx, e, full); rerr != nil {
			err = errors.Join(err, fail(rerr))
		}
	}()
	if err := waitJob(ctx, e, full); err != nil {
		return fail(err)
	}
	res, err := lastResult(ctx, e, stackName, restoreName, "restore", start.Add(-time.Second))
	if err != nil {
		return fail(err)
	}
	if res.Result != "succeeded" {
		return fail(errors.New(res.Message))
	}
	fmt.Fprintf(out, "restored %s (%s) into database %s of %s in %ds\n", res.Name, pgbackup.HumanSize(res.Size), res.Database, db, res.Seconds)
	return nil
}

// copier is what copyOut needs of the engine client; *client.Client has it.
type copier interface {
	CopyFromContainer(ctx context.Context, containerID string, options client.CopyFromContainerOptions) (client.CopyFromContainerResult, error)
}

// copyOut copies the dump name out of the backup volume, through the container of the job's
// newest completed task (a stopped container still gives its volume's files), into file. It
// returns the size copied.
func copyOut(ctx context.Context, e Engine, stackName, job, name, file string) (int64, error) {
	fail := func(err error) (int64, error) {
		return 0, fmt.Errorf("stack %q: copy %s to %s: %w", stackName, name, file, err)
	}
	cc, ok := e.(copier)
	if !ok {
		return fail(errors.New("this engine client cannot copy files from containers"))
	}
	cid, err := jobContainer(ctx, e, stackName, job)
	if err != nil {
		return fail(err)
	}
	res, err := cc.CopyFromContainer(ctx, cid, client.CopyFromContainerOptions{SourcePath: pgbackup.Dir + "/" + name})
	if err != nil {
		return fail(fmt.Errorf("from container %.12s (the task ran on another node?): %w", cid, err))
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	if _, err := tr.Next(); err != nil {
		return fail(err)
	}
	tmp := file + ".partial"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fail(err)
	}
	n, err := io.Copy(f, tr)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		os.Remove(tmp)
		return fail(err)
	}
	return n, nil
}

// jobContainer is the container of the newest completed task of a job service: a stopped
// container still reads and writes its volumes' files.
func jobContainer(ctx context.Context, e Engine, stackName, job string) (string, error) {
	insp, err := e.ServiceInspect(ctx, stackName+"_"+job, client.ServiceInspectOptions{})
	if err != nil {
		return "", err
	}
	tasks, err := e.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", insp.Service.ID)})
	if err != nil {
		return "", err
	}
	cid := ""
	var newest time.Time
	for _, t := range tasks.Items {
		if t.Status.State == swarm.TaskStateComplete && t.Status.ContainerStatus != nil && t.Status.Timestamp.After(newest) {
			cid, newest = t.Status.ContainerStatus.ContainerID, t.Status.Timestamp
		}
	}
	if cid == "" {
		return "", errors.New("no completed task of the backup job (has it run since the stack was applied?)")
	}
	return cid, nil
}

// copierTo is what copyIn needs of the engine client; *client.Client has it.
type copierTo interface {
	CopyToContainer(ctx context.Context, containerID string, options client.CopyToContainerOptions) (client.CopyToContainerResult, error)
}

// dumpMagic starts every pg_dump custom-format archive.
const dumpMagic = "PGDMP"

// copyIn copies the local dump file into the backup volume of the job, through the container
// of its newest completed task (after waiting for a run in progress to end), as
// upload-<time>.dump: a name the job's retention and "latest" ignore. It returns that name.
func copyIn(ctx context.Context, e Engine, stackName, job, file string) (string, error) {
	fail := func(err error) (string, error) {
		return "", fmt.Errorf("stack %q: copy %s into the backup volume of %s: %w", stackName, file, job, err)
	}
	f, err := os.Open(file)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	magic := make([]byte, len(dumpMagic))
	if !st.Mode().IsRegular() {
		return fail(errors.New("not a regular file"))
	}
	if _, err := io.ReadFull(f, magic); err != nil || string(magic) != dumpMagic {
		return fail(errors.New("not a pg_dump custom-format archive (pg_dump -Fc, as backup --copy-to writes)"))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	cc, ok := e.(copierTo)
	if !ok {
		return fail(errors.New("this engine client cannot copy files into containers"))
	}
	if err := waitJob(ctx, e, stackName+"_"+job); err != nil {
		return fail(err)
	}
	cid, err := jobContainer(ctx, e, stackName, job)
	if err != nil {
		return fail(err)
	}
	now := time.Now().UTC()
	name := "upload-" + now.Format("20060102T150405Z") + ".dump"
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: st.Size(), Mode: 0o600, ModTime: now})
		if err == nil {
			var n int64
			n, err = io.Copy(tw, f)
			if err == nil && n != st.Size() {
				err = fmt.Errorf("%s changed while being copied", file)
			}
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	_, err = cc.CopyToContainer(ctx, cid, client.CopyToContainerOptions{DestinationPath: pgbackup.Dir, Content: pr})
	pr.CloseWithError(io.ErrClosedPipe) // ends the writer if the engine stopped reading
	if err != nil {
		return fail(fmt.Errorf("into container %.12s (the task ran on another node?): %w", cid, err))
	}
	return name, nil
}

type scaled struct {
	name     string
	replicas uint64
}

// scale sets the replicas of a replicated service, keeping the rest of its spec.
func scale(ctx context.Context, e Engine, name string, n uint64) error {
	insp, err := e.ServiceInspect(ctx, name, client.ServiceInspectOptions{})
	if err != nil {
		return err
	}
	spec := insp.Service.Spec
	if spec.Mode.Replicated == nil {
		return fmt.Errorf("%s is not a replicated service", name)
	}
	spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &n}
	_, err = e.ServiceUpdate(ctx, insp.Service.ID, client.ServiceUpdateOptions{Version: insp.Service.Version, Spec: spec})
	return err
}

// removeService removes a service when it exists and waits until its tasks have stopped.
func removeService(ctx context.Context, e Engine, name string) error {
	insp, err := e.ServiceInspect(ctx, name, client.ServiceInspectOptions{})
	if errdefs.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if _, err := e.ServiceRemove(ctx, insp.Service.ID, client.ServiceRemoveOptions{}); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// waitIdle waits until no task of the service is in a non-terminal state.
func waitIdle(ctx context.Context, e Engine, id string, progress io.Writer, name string) error {
	said := false
	for {
		tasks, err := e.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", id)})
		if err != nil {
			return fmt.Errorf("list tasks: %w", err)
		}
		active := 0
		for _, t := range tasks.Items {
			if !taskTerminal(t.Status.State) {
				active++
			}
		}
		if active == 0 {
			return nil
		}
		if !said {
			fmt.Fprintf(progress, "service %s: waiting for %d task(s) to stop\n", name, active)
			said = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("service %s: %d task(s) still running: %w", name, active, ctx.Err())
		case <-time.After(backupPoll):
		}
	}
}

// waitJob waits until the current iteration of a job service has tasks, none of them active
// (the engine creates a retry of a failed task at once, so none active means the run ended).
func waitJob(ctx context.Context, e Engine, name string) error {
	for {
		insp, err := e.ServiceInspect(ctx, name, client.ServiceInspectOptions{})
		if err != nil {
			return err
		}
		var iter uint64
		if js := insp.Service.JobStatus; js != nil {
			iter = js.JobIteration.Index
		}
		tasks, err := e.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", insp.Service.ID)})
		if err != nil {
			return fmt.Errorf("list tasks: %w", err)
		}
		total, active := 0, 0
		for _, t := range tasks.Items {
			if t.JobIteration != nil && t.JobIteration.Index != iter {
				continue
			}
			total++
			if !taskTerminal(t.Status.State) {
				active++
			}
		}
		if total > 0 && active == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the run has not ended: %w", ctx.Err())
		case <-time.After(backupPoll):
		}
	}
}

func taskTerminal(s swarm.TaskState) bool {
	switch s {
	case swarm.TaskStateComplete, swarm.TaskStateShutdown, swarm.TaskStateFailed, swarm.TaskStateRejected,
		swarm.TaskStateRemove, swarm.TaskStateOrphaned:
		return true
	}
	return false
}

// lastResult reads the newest result line of operation op a job logged (at or after since,
// when since is not zero).
func lastResult(ctx context.Context, e Engine, stackName, job, op string, since time.Time) (pgbackup.Result, error) {
	var buf bytes.Buffer
	if err := swarmx.Logs(ctx, e, stackName, job, false, "200", &buf); err != nil {
		return pgbackup.Result{}, err
	}
	res, ok := parseResults(&buf, op, since)
	if !ok {
		return res, fmt.Errorf("the job logged no %s result (see: logs %s)", op, job)
	}
	return res, nil
}

// parseResults returns the newest result of op among the result lines of a job's logs, with
// a time at or after since.
func parseResults(r io.Reader, op string, since time.Time) (pgbackup.Result, bool) {
	var best pgbackup.Result
	var bestT time.Time
	found := false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		i := strings.Index(line, pgbackup.ResultPrefix)
		if i < 0 {
			continue
		}
		var res pgbackup.Result
		if json.Unmarshal([]byte(line[i+len(pgbackup.ResultPrefix):]), &res) != nil || (op != "" && res.Op != op) {
			continue
		}
		t, err := time.Parse(time.RFC3339, res.Time)
		if err != nil || t.Before(since) {
			continue
		}
		if !found || !t.Before(bestT) {
			best, bestT, found = res, t, true
		}
	}
	return best, found
}

// BackupStatus is what status tells of a backup job (services/pgbackup), from its logs and
// its schedule; `status -o json` gives it as the "backup" field of the job's service.
type BackupStatus struct {
	// Job is the backup job's name in the stack.
	Job string `json:"job"`
	// LastDump is the newest dump the job made (empty: none yet), LastDumpSize its size in
	// bytes and LastDumpTime when it was made (RFC 3339, UTC).
	LastDump     string `json:"lastDump,omitempty"`
	LastDumpSize int64  `json:"lastDumpSize,omitempty"`
	LastDumpTime string `json:"lastDumpTime,omitempty"`
	// LastResult is the result of the job's last run (succeeded or failed; empty: no run
	// yet), LastRunTime when it ended and LastMessage why it failed, or what it kept.
	LastResult  string `json:"lastResult,omitempty"`
	LastRunTime string `json:"lastRunTime,omitempty"`
	LastMessage string `json:"lastMessage,omitempty"`
	// NextRun is the time (RFC 3339, UTC) of the next scheduled run, if any.
	NextRun string `json:"nextRun,omitempty"`
}

// statusJSON is one service of `status -o json`: its status and, for a backup job, its
// backup.
type statusJSON struct {
	swarmx.ServiceStatus
	Backup *BackupStatus `json:"backup,omitempty"`
}

// backupStatuses reads, for each deployed backup job of the stack, its last dump and last run
// from its logs, by the job's Swarm service name.
func (c *cli) backupStatuses(ctx context.Context, e Engine, sts []swarmx.ServiceStatus) map[string]*BackupStatus {
	out := map[string]*BackupStatus{}
	for _, j := range c.st.Services {
		if j == nil || j.Labels[pgbackup.LabelRole] != pgbackup.Role {
			continue
		}
		full := c.st.Name + "_" + j.Name
		b := &BackupStatus{Job: j.Name}
		for _, s := range sts {
			if s.Name == full {
				b.NextRun = s.NextRun
			}
		}
		var buf bytes.Buffer
		if err := swarmx.Logs(ctx, e, c.st.Name, j.Name, false, "500", &buf); err != nil {
			continue // not deployed: the table says so
		}
		logs := buf.Bytes()
		if good, ok := lastGood(bytes.NewReader(logs)); ok {
			b.LastDump, b.LastDumpSize, b.LastDumpTime = good.Name, good.Size, good.Time
		}
		if last, ok := parseResults(bytes.NewReader(logs), "backup", time.Time{}); ok {
			b.LastResult, b.LastRunTime, b.LastMessage = last.Result, last.Time, last.Message
		}
		out[full] = b
	}
	return out
}

// withBackups is the status list with each backup job's backup.
func withBackups(sts []swarmx.ServiceStatus, backups map[string]*BackupStatus) []statusJSON {
	out := make([]statusJSON, len(sts))
	for i, s := range sts {
		out[i] = statusJSON{ServiceStatus: s, Backup: backups[s.Name]}
	}
	return out
}

// printBackups writes one line per backup job: its last dump and next run, and its last run
// when that failed (status calls it after the service table).
func (c *cli) printBackups(backups map[string]*BackupStatus) {
	for _, j := range c.st.Services {
		if j == nil || backups[c.st.Name+"_"+j.Name] == nil {
			continue
		}
		b := backups[c.st.Name+"_"+j.Name]
		next := ""
		if b.NextRun != "" {
			next = ", next run " + b.NextRun
		}
		if b.LastDump != "" {
			fmt.Fprintf(c.o.Stdout, "backup %s: last dump %s (%s) at %s%s\n", b.Job, b.LastDump, pgbackup.HumanSize(b.LastDumpSize), b.LastDumpTime, next)
		} else {
			fmt.Fprintf(c.o.Stdout, "backup %s: no dump yet%s\n", b.Job, next)
		}
		if b.LastResult == "failed" {
			fmt.Fprintf(c.o.Stdout, "backup %s: last run FAILED at %s: %s\n", b.Job, b.LastRunTime, b.LastMessage)
		}
	}
}

// lastGood is the newest succeeded backup in the logs.
func lastGood(r io.Reader) (pgbackup.Result, bool) {
	var keep []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"result":"succeeded"`) {
			keep = append(keep, sc.Text())
		}
	}
	return parseResults(strings.NewReader(strings.Join(keep, "\n")), "backup", time.Time{})
}
