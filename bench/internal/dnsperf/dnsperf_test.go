package dnsperf

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The testdata/*.txt dnsperf files are real dnsperf 2.10 output, captured
// from runs against the servers this harness starts.
func TestParse(t *testing.T) {
	tests := []struct {
		file                   string
		sent, completed, lost  int64
		qps                    float64
		rcodes                 map[string]int64
		req, resp              int
		avg, minLat, maxLat    float64
		latencies              int
		timeouts               int64
		p50, p99               float64
		wantNoVerbose, wantAll bool
	}{
		{
			file: "saturation.txt", sent: 263415, completed: 263415, lost: 0, qps: 131703.219645,
			rcodes: map[string]int64{"NOERROR": 263415}, req: 42, resp: 58,
			avg: 0.000547, minLat: 0.000010, maxLat: 0.003568, wantNoVerbose: true,
		},
		{
			file: "verbose.txt", sent: 200, completed: 200, lost: 0, qps: 999.130756,
			rcodes: map[string]int64{"NOERROR": 200}, req: 41, resp: 57,
			avg: 0.000056, minLat: 0.000042, maxLat: 0.000199, latencies: 200,
			p50: 0.000051, p99: 0.000131,
		},
		{
			file: "lost.txt", sent: 5, completed: 0, lost: 5, qps: 0,
			rcodes: map[string]int64{}, req: 39, resp: 0, timeouts: 5, wantNoVerbose: true,
		},
		{
			file: "rcodes.txt", sent: 9, completed: 9, lost: 0, qps: 5886.200131,
			rcodes: map[string]int64{"NOERROR": 6, "REFUSED": 3}, req: 37, resp: 47,
			avg: 0.000054, minLat: 0.000035, maxLat: 0.000166, latencies: 9,
			p50: 0.000042, p99: 0.000166,
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			st, err := Parse(bytes.NewReader(readTestdata(t, tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			if st.Sent != tt.sent || st.Completed != tt.completed || st.Lost != tt.lost {
				t.Errorf("sent/completed/lost = %d/%d/%d, want %d/%d/%d", st.Sent, st.Completed, st.Lost, tt.sent, tt.completed, tt.lost)
			}
			if st.QPS != tt.qps {
				t.Errorf("qps = %v, want %v", st.QPS, tt.qps)
			}
			if len(st.Rcodes) != len(tt.rcodes) {
				t.Errorf("rcodes = %v, want %v", st.Rcodes, tt.rcodes)
			}
			for k, v := range tt.rcodes {
				if st.Rcodes[k] != v {
					t.Errorf("rcodes = %v, want %v", st.Rcodes, tt.rcodes)
				}
			}
			if st.ReqSize != tt.req || st.RespSize != tt.resp {
				t.Errorf("sizes = %d/%d, want %d/%d", st.ReqSize, st.RespSize, tt.req, tt.resp)
			}
			if st.AvgLatency != tt.avg || st.MinLatency != tt.minLat || st.MaxLatency != tt.maxLat {
				t.Errorf("latency avg/min/max = %v/%v/%v, want %v/%v/%v", st.AvgLatency, st.MinLatency, st.MaxLatency, tt.avg, tt.minLat, tt.maxLat)
			}
			if len(st.Latencies) != tt.latencies {
				t.Errorf("%d verbose latencies, want %d", len(st.Latencies), tt.latencies)
			}
			if st.Timeouts != tt.timeouts {
				t.Errorf("timeouts = %d, want %d", st.Timeouts, tt.timeouts)
			}
			if tt.latencies > 0 {
				if got := Percentile(st.Latencies, 50); got != tt.p50 {
					t.Errorf("p50 = %v, want %v", got, tt.p50)
				}
				if got := Percentile(st.Latencies, 99); got != tt.p99 {
					t.Errorf("p99 = %v, want %v", got, tt.p99)
				}
				// The verbose latencies agree with dnsperf's own summary.
				if st.Latencies[0] != st.MinLatency || st.Latencies[len(st.Latencies)-1] != st.MaxLatency {
					t.Errorf("verbose min/max %v/%v differ from the summary's %v/%v",
						st.Latencies[0], st.Latencies[len(st.Latencies)-1], st.MinLatency, st.MaxLatency)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	good := string(readTestdata(t, "saturation.txt"))
	tests := map[string]string{
		"empty":              "",
		"usage only":         "DNS Performance Testing Tool\nVersion 2.10.0\n\nUsage: dnsperf ...\n",
		"no qps":             strings.Replace(good, "Queries per second", "Queries per hour", 1),
		"bad count":          strings.Replace(good, "Queries sent:         263415", "Queries sent:         many", 1),
		"bad rcode":          strings.Replace(good, "NOERROR 263415 (100.00%)", "NOERROR lots", 1),
		"bad latency":        strings.Replace(good, "0.000547 (min", "fast (min", 1),
		"bad verbose":        "> NOERROR www.example. A soon\n" + good,
		"negative verbose":   "> NOERROR www.example. A -0.1\n" + good,
		"empty verbose":      ">  \n" + good,
		"no verbose latency": "> NOERROR\n" + good,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if st, err := Parse(strings.NewReader(in)); err == nil {
				t.Errorf("Parse succeeded: %+v", st)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"saturation.txt", "verbose.txt", "lost.txt", "rcodes.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := Parse(bytes.NewReader(b))
		if err != nil {
			return
		}
		for i := 1; i < len(st.Latencies); i++ {
			if st.Latencies[i] < st.Latencies[i-1] {
				t.Fatal("latencies not sorted")
			}
		}
	})
}

func TestPercentile(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		p    float64
		want float64
	}{{50, 5}, {90, 9}, {99, 10}, {100, 10}, {1, 1}, {0, 1}, {10, 1}, {11, 2}}
	for _, tt := range tests {
		if got := Percentile(v, tt.p); got != tt.want {
			t.Errorf("Percentile(1..10, %v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := Percentile(nil, 50); !math.IsNaN(got) {
		t.Errorf("Percentile(nil) = %v, want NaN", got)
	}
}
