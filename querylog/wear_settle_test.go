package querylog

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// settleStaged merges what is staged, so that BenchmarkWriteBytes counts
// every entry's whole way into the indexed table (a build without the
// staging table has nothing to settle).
func settleStaged(b *testing.B, l *Log) { mergeAll(b, l) }

// benchStaging sets the merge settings from the environment, for
// measuring other choices than the defaults: QUERYLOG_BENCH_MERGE_ROWS,
// QUERYLOG_BENCH_MERGE_BATCH, QUERYLOG_BENCH_MERGE_SLICE (a duration) and
// QUERYLOG_BENCH_CACHE_KIB.
func benchStaging(cfg *Config) {
	cfg.MergeRows, _ = strconv.Atoi(os.Getenv("QUERYLOG_BENCH_MERGE_ROWS"))
	cfg.MergeBatch, _ = strconv.Atoi(os.Getenv("QUERYLOG_BENCH_MERGE_BATCH"))
	cfg.mergeSlice, _ = time.ParseDuration(os.Getenv("QUERYLOG_BENCH_MERGE_SLICE"))
	cfg.batchCacheKiB, _ = strconv.Atoi(os.Getenv("QUERYLOG_BENCH_CACHE_KIB"))
}
