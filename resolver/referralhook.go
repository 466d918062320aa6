package resolver

import "context"

// ReferralHook is told, during a resolution, about each zone the
// resolution is referred to whose delegation is signed (the referral
// carries the zone's DS records), as soon as the referral arrives: a
// validator uses it to fetch and check that zone's keys while the
// resolution goes on, instead of after it (resolver/validator). It must
// not block.
type ReferralHook interface {
	SignedReferral(zone string)
}

type referralHookKey struct{}

// WithReferralHook returns a context under which a resolver that follows
// referrals (the recursor) tells h about signed delegations on the way to
// the answer. Name server address lookups along the way are not reported:
// their answers are not validated, so their zones' keys are not needed.
func WithReferralHook(ctx context.Context, h ReferralHook) context.Context {
	return context.WithValue(ctx, referralHookKey{}, h)
}

// ReferralHookFrom returns the hook ctx carries, or nil.
func ReferralHookFrom(ctx context.Context) ReferralHook {
	h, _ := ctx.Value(referralHookKey{}).(ReferralHook)
	return h
}
