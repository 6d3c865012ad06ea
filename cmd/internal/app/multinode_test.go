package app

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"mig/adapters/source/gpsim"
	"mig/audit"
	auditpg "mig/audit/pg"
	"mig/consent"
	"mig/consent/devidp"
	"mig/fhir"
	"mig/internal/pgstore"
	"mig/internal/pgtest"
	"mig/internal/testenv"
)

// TestGatewayOnPostgres runs the in-process demo gateway on PostgreSQL:
// consent, reads, refusals, the audit chain verified by the store, and
// /readyz reporting the database.
func TestGatewayOnPostgres(t *testing.T) {
	dbURL := pgtest.URL(t)
	g := startGateway(t, func(m *Main) { m.Config.Store = dbURL; m.Config.OpsAddr = "127.0.0.1:0" })
	if g.m.stores.pool == nil {
		t.Fatal("the gateway did not open PostgreSQL")
	}
	clin := g.token("pg-clin", "R8000", "RX999")
	if r := g.recordConsent(clin, tppConsent, consentGiven); r.Status != 201 {
		t.Fatalf("consent: HTTP %d %s", r.Status, truncate(r.Body))
	}
	if r := g.searchPatient(clin, tppConsent); r.Status != 200 || !bytes.Contains(r.Body, []byte(tppConsent)) {
		t.Fatalf("read: HTTP %d %s", r.Status, truncate(r.Body))
	}
	if r := g.searchPatient(g.token("pg-recep", "R8009", "RX999"), tppConsent); r.Status != 403 {
		t.Fatalf("receptionist: HTTP %d", r.Status)
	}
	r := doURL(t, g.http, http.MethodGet, g.m.OpsURL+"/readyz", "", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"database":"ok"`) {
		t.Errorf("/readyz on PostgreSQL: HTTP %d %s", r.Status, r.Body)
	}
	if !strings.Contains(scrape(t, g), "mig_store_up 1\n") {
		t.Error("mig_store_up is not 1")
	}
	rep, err := g.m.audit.(*auditpg.Store).Verify(context.Background(), audit.VerifyOptions{})
	if err != nil || !rep.OK() || rep.Records < 3 {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}

// node is one migd subprocess of the cluster test.
type node struct {
	name, config string
	cmd          *exec.Cmd
	url          string
	stderr       *syncBuffer
}

// startNode runs bin -config and waits for its "gateway serving" log line;
// it returns the node's URL (the caller publishes it to the balancer).
func startNode(t *testing.T, bin string, n *node) (string, error) {
	cmd := exec.Command(bin, "-config", n.config)
	buf := &syncBuffer{}
	n.stderr = buf
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	n.cmd = cmd
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(errPipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Bytes()
			buf.Write(append(append([]byte{}, line...), '\n'))
			var l struct {
				Message string `json:"message"`
				URL     string `json:"url"`
			}
			if !sent && json.Unmarshal(line, &l) == nil && l.Message == "gateway serving" {
				found <- l.URL
				sent = true
			}
		}
		if !sent {
			found <- "" // it exited
		}
	}()
	select {
	case u := <-found:
		if u == "" {
			return "", fmt.Errorf("%s exited: %s", n.name, buf.String())
		}
		return u, nil
	case <-time.After(60 * time.Second):
		return "", fmt.Errorf("%s did not start within 60 s: %s", n.name, buf.String())
	}
}

// balancer is a round-robin reverse proxy over the live nodes.
type balancer struct {
	mu    sync.Mutex
	nodes []*node
	next  atomic.Uint64
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	var live []string
	for _, n := range b.nodes {
		if n.url != "" {
			live = append(live, n.url)
		}
	}
	b.mu.Unlock()
	if len(live) == 0 {
		http.Error(w, "no node", 599)
		return
	}
	u, _ := url.Parse(live[b.next.Add(1)%uint64(len(live))])
	p := httputil.NewSingleHostReverseProxy(u)
	p.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(599) } // not the gateway's answer
	p.ServeHTTP(w, r)
}

// countingGP is a gpsim practice that also counts every notification
// POSTed, by its idempotency key, before gpsim's own de-duplication.
type countingGP struct {
	h    http.Handler
	mu   sync.Mutex
	seen map[string]int
}

func (c *countingGP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == "/access-notifications" {
		rec := httptest.NewRecorder()
		c.h.ServeHTTP(rec, r)
		if rec.Code/100 == 2 {
			c.mu.Lock()
			c.seen[r.Header.Get("Idempotency-Key")]++
			c.mu.Unlock()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return
	}
	c.h.ServeHTTP(w, r)
}

// TestThreeNodesOnPostgres: three migd processes on one PostgreSQL behind
// a round-robin proxy, under a bounded load of allowed and refused
// requests; one node is SIGKILLed and restarted mid-load and PostgreSQL is
// restarted once. Afterwards every answered request has its AuditEvent,
// the one chain verifies against each node's signed checkpoints, every
// access notification reached its GP system exactly once, and a cursor and
// a launch issued through one node work on another.
func TestThreeNodesOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds migd and runs a PostgreSQL cluster")
	}
	cluster := pgtest.NewCluster(t)
	root := testenv.ModuleRoot(t)
	tmp := t.TempDir()
	bin := buildBin(t, "migd")
	testdata := filepath.Join(root, "testdata")

	// The identity provider, the HTTP practice (counting notifications),
	// the balancer.
	idp, err := devidp.Start(context.Background(), devidp.Options{Audience: "mig"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Close() })
	sim, err := gpsim.New(gpsim.Config{Dir: filepath.Join(testdata, "A99902"), Notifications: filepath.Join(tmp, "gpsim-notifications.ndjson")})
	if err != nil {
		t.Fatal(err)
	}
	gp := &countingGP{h: sim, seen: map[string]int{}}
	gpSrv := httptest.NewServer(gp)
	t.Cleanup(gpSrv.Close)
	lb := &balancer{}
	lbSrv := httptest.NewServer(lb)
	t.Cleanup(lbSrv.Close)

	// Shared key material: made once, read by every node.
	keys := filepath.Join(tmp, "keys")
	os.MkdirAll(keys, 0o700)
	if err := createKey(filepath.Join(keys, "gateway.key")); err != nil {
		t.Fatal(err)
	}
	ckptKey := filepath.Join(tmp, "audit-keys", "checkpoint.key")
	if err := audit.CreateCheckpointKey(ckptKey); err != nil {
		t.Fatal(err)
	}
	ehrKey, err := devidp.LoadOrCreateClientKey(filepath.Join(keys, "ehr.key"))
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(devidp.PublicKeySet(ehrKey.Public()))
	os.WriteFile(filepath.Join(keys, "ehr.jwks"), jwks, 0o600)
	accessLog := filepath.Join(tmp, "access-A99903.ndjson") // shared by the nodes, as on one host

	nodes := make([]*node, 3)
	for i := range nodes {
		name := fmt.Sprintf("node%d", i+1)
		data := filepath.Join(tmp, name)
		witness := filepath.Join(tmp, "witness-"+name)
		os.MkdirAll(data, 0o700)
		os.MkdirAll(witness, 0o700)
		cfg := map[string]any{
			"addr": "127.0.0.1:0", "publicUrl": lbSrv.URL, "dataDir": data, "nodeId": name,
			"keyFile": filepath.Join(keys, "gateway.key"), "store": cluster.URL(), "storeMaxConns": 8,
			"logLevel":        "info",
			"auth":            map[string]any{"issuer": idp.Issuer(), "audience": "mig"},
			"access":          map[string]any{"adminUsers": []string{"admin"}},
			"auditorWideOrgs": []string{DevOperatorOrg},
			"terms":           "filter",
			"practices": []any{
				map[string]any{"ods": "A99902", "name": "EMIS", "format": "emis", "http": map[string]any{
					"base": gpSrv.URL, "timeout": "3s", "retries": 1, "breakerFailures": 50}},
				map[string]any{"ods": "A99903", "name": "TPP", "format": "tpp", "dir": map[string]any{
					"path": filepath.Join(testdata, "A99903"), "accessLog": accessLog}},
			},
			"notifications": map[string]any{"maxBackoff": "1s", "lease": "3s"},
			"launch":        map[string]any{"clients": []any{map[string]any{"id": "ehr", "jwksFile": filepath.Join(keys, "ehr.jwks")}}},
			"audit": map[string]any{"checkpoint": map[string]any{
				"log": filepath.Join(witness, "checkpoints.log"), "key": ckptKey, "interval": "200ms"}},
		}
		b, _ := json.Marshal(cfg)
		path := filepath.Join(tmp, name+".json")
		os.WriteFile(path, b, 0o600)
		nodes[i] = &node{name: name, config: path}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for i, n := range nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.url, errs[i] = startNode(t, bin, n) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	lb.mu.Lock()
	lb.nodes = nodes
	lb.mu.Unlock()

	client := &http.Client{Timeout: 20 * time.Second}
	mint := func(user, role, org string) string {
		tok, err := idp.MintToken(user, role, org, "")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	admin, clin, recep := mint("admin", "R8000", "X99999"), mint("mn-clin", "R8000", "RX999"), mint("mn-recep", "R8009", "RX999")
	if r := doURL(t, client, http.MethodPost, lbSrv.URL+"/admin/agreements", admin, consent.DemoAgreement(time.Now().UTC())); r.Status != 201 {
		t.Fatalf("agreement: HTTP %d %s", r.Status, truncate(r.Body))
	}
	for _, nhs := range []string{emisConsent, tppConsent, tppConsent2} {
		if r := doURL(t, client, http.MethodPost, lbSrv.URL+"/fhir/Consent", clin, consentBody(nhs, consentGiven)); r.Status != 201 {
			t.Fatalf("consent %s: HTTP %d %s", nhs, r.Status, truncate(r.Body))
		}
	}

	// Load: four clients, allowed and refused requests, until stopped.
	type answer struct {
		id     string
		status int
		data   bool
		code   string
	}
	var (
		mu      sync.Mutex
		answers []answer
		stop    = make(chan struct{})
		load    sync.WaitGroup
	)
	for w := 0; w < 4; w++ {
		load.Add(1)
		go func(w int) {
			defer load.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				nhs := []string{emisConsent, tppConsent, tppConsent2}[i%3]
				tok := clin
				if i%4 == 3 {
					tok = recep // refused: role
				}
				id := fmt.Sprintf("mn-%d-%d", w, i)
				form := url.Values{"identifier": {"https://fhir.nhs.uk/Id/nhs-number|" + nhs}}
				req, _ := http.NewRequest(http.MethodPost, lbSrv.URL+"/fhir/Patient/_search", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("X-Request-ID", id)
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode == 599 {
					continue // the node died under it: not the gateway's answer
				}
				a := answer{id: id, status: resp.StatusCode, data: resp.StatusCode == 200 && bytes.Contains(body, []byte(nhs))}
				if resp.StatusCode >= 400 {
					r := &response{Status: resp.StatusCode, Body: body}
					a.code, _ = r.outcome(t)
				}
				mu.Lock()
				answers = append(answers, a)
				mu.Unlock()
			}
		}(w)
	}
	time.Sleep(1500 * time.Millisecond)
	victim := nodes[1]
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	victim.cmd.Wait()
	lb.mu.Lock()
	victim.url = ""
	lb.mu.Unlock()
	time.Sleep(500 * time.Millisecond)
	u, err := startNode(t, bin, victim) // same config: a fresh process takes its place
	if err != nil {
		close(stop)
		load.Wait()
		t.Fatal(err)
	}
	lb.mu.Lock()
	victim.url = u
	lb.mu.Unlock()
	time.Sleep(time.Second)
	cluster.Restart()
	time.Sleep(2 * time.Second)
	close(stop)
	load.Wait()

	var withData, refused, auditDown int
	for _, a := range answers {
		switch {
		case a.data:
			withData++
		case a.status == 503 && a.code == "AUDIT_UNAVAILABLE":
			auditDown++
		case a.status >= 400:
			refused++
		}
	}
	t.Logf("%d answers: %d with data, %d refused, %d 503 AUDIT_UNAVAILABLE (database restarting)", len(answers), withData, refused, auditDown)
	if withData < 20 || refused < 5 {
		t.Fatalf("too little load to prove anything: %d with data, %d refused; node stderr: %.2000s", withData, refused, nodes[0].stderr.String())
	}
	// The nodes recovered from the database restart without one of their own.
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := doURL(t, client, http.MethodPost, lbSrv.URL+"/fhir/Patient/_search", clin, url.Values{"identifier": {"https://fhir.nhs.uk/Id/nhs-number|" + tppConsent}})
		if r.Status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the database restart: HTTP %d %s", r.Status, truncate(r.Body))
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Every answered request (data or refusal) has its AuditEvent.
	ctx := context.Background()
	pool, err := pgstore.Connect(ctx, pgstore.Options{URL: cluster.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	store, err := auditpg.Open(ctx, pool, auditpg.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	byRequest := map[string][]*audit.Decoded{}
	var owedGP, owedDir []string // AuditEvent ids owed to A99902 (HTTP) and A99903 (directory)
	if err := store.Scan(ctx, 0, func(st *audit.Stored) error {
		d, err := audit.Decode(st.Body)
		if err != nil {
			return err
		}
		byRequest[d.RequestID] = append(byRequest[d.RequestID], d)
		switch d.Practice {
		case "A99902":
			owedGP = append(owedGP, d.ID)
		case "A99903":
			owedDir = append(owedDir, d.ID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, a := range answers {
		if a.status == 503 && a.code == "AUDIT_UNAVAILABLE" {
			continue // refused because its event could not be stored: nothing released
		}
		evs := byRequest[a.id]
		if len(evs) == 0 {
			t.Errorf("request %s answered HTTP %d (data %v) but has no AuditEvent", a.id, a.status, a.data)
			continue
		}
		if a.data && evs[0].Outcome != audit.OutcomeSuccess {
			t.Errorf("request %s released data but its AuditEvent says %q", a.id, evs[0].Outcome)
		}
		if !a.data && evs[0].Outcome == audit.OutcomeSuccess {
			t.Errorf("request %s was refused (HTTP %d) but its AuditEvent says success", a.id, a.status)
		}
	}

	// One chain, verified, and matching every node's signed checkpoints.
	rep, err := store.Verify(ctx, audit.VerifyOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("chain: %v %+v", err, rep)
	}
	for _, n := range nodes {
		log := filepath.Join(tmp, "witness-"+n.name, "checkpoints.log")
		pub, err := audit.ReadPublicKey(audit.PublicKeyPath(log))
		if err != nil {
			t.Fatal(err)
		}
		lr, err := audit.ReadCheckpoints(log, pub)
		if err != nil || len(lr.Problems) > 0 || lr.Latest == nil {
			t.Fatalf("%s checkpoints: %v %v", n.name, err, lr)
		}
		if err := audit.CheckChain(ctx, store, lr.Latest); err != nil {
			t.Errorf("%s's latest checkpoint (seq %d) does not match the chain: %v", n.name, lr.Latest.Seq, err)
		}
	}

	// Cursors and launches work across nodes: page 2 from a page 1 asked
	// of node1, fetched from node3; a launch made on node1 redeemed on node3.
	page1 := doURL(t, client, http.MethodGet, nodes[0].url+"/fhir/Observation?patient="+patientID(t, keys, tppConsent)+"&_count=1", clin, nil)
	next := nextLink(t, page1)
	if next == "" {
		t.Fatalf("page 1 from node1 has no next link: HTTP %d %s", page1.Status, truncate(page1.Body))
	}
	next = strings.Replace(next, lbSrv.URL, nodes[2].url, 1)
	if r := doURL(t, client, http.MethodGet, next, clin, nil); r.Status != 200 || !strings.Contains(string(r.Body), `"Observation"`) {
		t.Errorf("page 2 on node3: HTTP %d %s", r.Status, truncate(r.Body))
	}
	launch := createLaunch(t, client, nodes[0].url, lbSrv.URL, ehrKey, "mn-clin", tppConsent)
	r := doURL(t, client, http.MethodPost, nodes[2].url+"/smart/launch/redeem", clin, url.Values{"launch": {launch}})
	if r.Status != 200 || !strings.Contains(string(r.Body), tppConsent) {
		t.Errorf("redeem on node3 of a launch made on node1: HTTP %d %s", r.Status, truncate(r.Body))
	}

	// Every notification reached its GP system once: the HTTP practice
	// (gpsim, which also de-duplicates by key) and the directory practice's
	// shared access log.
	deadline = time.Now().Add(20 * time.Second)
	for {
		gp.mu.Lock()
		missing := 0
		for _, id := range owedGP {
			if gp.seen[id] == 0 {
				missing++
			}
		}
		gp.mu.Unlock()
		b, _ := os.ReadFile(accessLog)
		for _, id := range owedDir {
			if !bytes.Contains(b, []byte(`"id":"`+id+`"`)) {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d notifications not delivered", missing, len(owedGP)+len(owedDir))
		}
		time.Sleep(250 * time.Millisecond)
	}
	if len(owedGP) == 0 || len(owedDir) == 0 {
		t.Fatalf("no notifications owed (GP %d, directory %d): the check proves nothing", len(owedGP), len(owedDir))
	}
	recorded := map[string]int{}
	for _, f := range []string{filepath.Join(tmp, "gpsim-notifications.ndjson"), accessLog} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			var n struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(line, &n) == nil && n.ID != "" {
				recorded[n.ID]++
			}
		}
	}
	resent := 0
	for id, c := range gp.seen {
		resent += c - 1
		if recorded[id] != 1 {
			t.Errorf("notification %s recorded %d times by the GP system", id, recorded[id])
		}
	}
	for _, id := range owedDir {
		if recorded[id] != 1 {
			t.Errorf("notification %s in the directory practice's access log %d times", id, recorded[id])
		}
	}
	t.Logf("notifications: %d to the HTTP practice, %d to the directory practice, each recorded once; %d re-sent after the kill and absorbed by the idempotency key", len(owedGP), len(owedDir), resent)
}

// patientID is the FHIR id the shared gateway key gives nhs.
func patientID(t *testing.T, keys, nhs string) string {
	t.Helper()
	key, err := loadKey(filepath.Join(keys, "gateway.key"), "")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := fhir.NewIDs(key[:32])
	if err != nil {
		t.Fatal(err)
	}
	return ids.Patient(nhs)
}

// nextLink returns a Bundle's next link.
func nextLink(t *testing.T, r *response) string {
	t.Helper()
	var b struct {
		Link []struct {
			Relation string `json:"relation"`
			URL      string `json:"url"`
		} `json:"link"`
	}
	json.Unmarshal(r.Body, &b)
	for _, l := range b.Link {
		if l.Relation == "next" {
			return l.URL
		}
	}
	return ""
}

// createLaunch asks node (as the registered EHR "ehr") for a launch of nhs
// for user; public is the gateway's public URL (the assertion's audience).
func createLaunch(t *testing.T, client *http.Client, node, public string, key *ecdsa.PrivateKey, user, nhs string) string {
	t.Helper()
	var jti [12]byte
	rand.Read(jti[:])
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{"iss": "ehr", "sub": "ehr", "aud": public + "/smart/launch",
		"exp": now.Add(time.Minute).Unix(), "iat": now.Unix(), "jti": hex.EncodeToString(jti[:])})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	assertion, _ := jws.CompactSerialize()
	r := doURL(t, client, http.MethodPost, node+"/smart/launch", "", url.Values{
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion},
		"user": {user}, "patient": {nhs}, "birthdate": {"1950-03-14"}, "org": {"RX999"}})
	var b struct {
		Launch string `json:"launch"`
	}
	if err := json.Unmarshal(r.Body, &b); err != nil || r.Status != 201 || b.Launch == "" {
		t.Fatalf("launch on %s: HTTP %d %s", node, r.Status, truncate(r.Body))
	}
	return b.Launch
}

// TestDatabaseOutageKeepsNodeReady: with PostgreSQL stopped, a node that
// had started stays ready (/readyz 200, saying the database is
// unavailable; mig_store_up 0) and answers requests itself with 503
// AUDIT_UNAVAILABLE and no data; when the database is back it serves
// again without a restart.
func TestDatabaseOutageKeepsNodeReady(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a PostgreSQL cluster")
	}
	cluster := pgtest.NewCluster(t)
	g := startGateway(t, func(m *Main) { m.Config.Store = cluster.URL(); m.Config.OpsAddr = "127.0.0.1:0" })
	clin := g.token("outage-clin", "R8000", "RX999")
	if r := g.recordConsent(clin, tppConsent, consentGiven); r.Status != 201 {
		t.Fatalf("consent: HTTP %d %s", r.Status, truncate(r.Body))
	}
	deadline := time.Now().Add(10 * time.Second)
	for !g.m.health.ready() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}

	cluster.Stop()
	time.Sleep(1100 * time.Millisecond) // past readiness's one-second probe cache
	r := doURL(t, g.http, http.MethodGet, g.m.OpsURL+"/readyz", "", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"status":"ready"`) || !strings.Contains(string(r.Body), `"database":"unavailable"`) {
		t.Errorf("/readyz during the outage: HTTP %d %s; want 200 ready, database unavailable", r.Status, r.Body)
	}
	if !strings.Contains(scrape(t, g), "mig_store_up 0\n") {
		t.Error("mig_store_up is not 0 during the outage")
	}
	r = g.searchPatient(clin, tppConsent)
	if code, _ := r.outcome(t); r.Status != 503 || code != "AUDIT_UNAVAILABLE" || bytes.Contains(r.Body, []byte(tppConsent)) {
		t.Errorf("a read during the outage: HTTP %d %s; want 503 AUDIT_UNAVAILABLE without data", r.Status, truncate(r.Body))
	}

	cluster.Start()
	deadline = time.Now().Add(20 * time.Second)
	for {
		r := g.searchPatient(clin, tppConsent)
		if r.Status == 200 && bytes.Contains(r.Body, []byte(tppConsent)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the database came back: HTTP %d %s", r.Status, truncate(r.Body))
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(1100 * time.Millisecond)
	if !strings.Contains(scrape(t, g), "mig_store_up 1\n") {
		t.Error("mig_store_up is not 1 once the database is back")
	}
}
