package resolver

import "gatehouse/policy"

// answerBlocked runs the answer-side checks on a cached or resolved answer:
// its CNAME and DNAME targets against the lists (CNAME cloaking), and its
// addresses against address lists, GeoIP and rebinding protection, all with
// the client's group masks (policy.Snapshot.DecideAnswer). The targets and
// addresses were extracted once, when the Answer was built, so a cache hit
// costs only the lookups and does not allocate.
//
// It runs on every answer, cache hits included, so a policy change applies
// to answers cached before it. When the answer is blocked, the query's
// decision becomes the answer-side block (logged and counted as such) and
// it reports true; the caller answers in the group's block style.
func (s *Server) answerBlocked(qu *query, a *Answer) bool {
	if len(a.Targets) == 0 && len(a.Addrs) == 0 {
		return false
	}
	d := qu.snap.DecideAnswer(qu.client, qu.d, qu.wq.q.Name, a.Targets, a.Addrs, qu.start)
	if d.Action != policy.Block {
		return false
	}
	qu.d, qu.blockedAnswer = d, a
	s.m.decided(d)
	return true
}
