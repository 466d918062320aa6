package blocklists

import (
	"errors"
	"fmt"
	"strings"
)

// Category is what a list is about. The set is fixed in code: the UK Safer
// Internet Centre "appropriate filtering" categories, the school-policy
// categories schools ask for on top, Custom for a school's own lists, and
// the two locked illegal-content categories. Reports and the block page
// speak these names, so every vendor category must map to exactly one.
//
// The zero value is not a category; configuration must name one.
type Category uint8

// The categories. The order is the order reports list them in.
const (
	// IWF is the Internet Watch Foundation list of child sexual abuse
	// content. Locked.
	IWF Category = iota + 1
	// CTIRU is the police-assessed list of unlawful terrorist content
	// (Counter Terrorism Internet Referral Unit). Locked.
	CTIRU

	// UKSIC "inappropriate online content" categories.
	Discrimination
	Drugs
	Extremism
	Gambling
	Hate
	Malware // malware and hacking, including sites hosting malicious content
	Pornography
	Piracy
	SelfHarm
	Violence
	Misinformation

	// School-policy categories.
	SocialMedia
	Gaming
	Streaming
	Dating
	Chat
	GenerativeAI
	Bypass // VPNs, web proxies, encrypted DNS (DoH/DoT), relays

	// Custom is for a school's own block and allow lists.
	Custom

	numCategories = iota + 1
)

type categoryInfo struct {
	name   string // configuration name
	title  string // for people: reports, block page
	locked bool
	uksic  bool
}

// categories is read-only; it is indexed by Category.
var categories = [numCategories]categoryInfo{
	IWF:            {"iwf", "Child sexual abuse content (IWF)", true, true},
	CTIRU:          {"ctiru", "Unlawful terrorist content (CTIRU)", true, true},
	Discrimination: {"discrimination", "Discrimination", false, true},
	Drugs:          {"drugs", "Drugs and substance abuse", false, true},
	Extremism:      {"extremism", "Extremism", false, true},
	Gambling:       {"gambling", "Gambling", false, true},
	Hate:           {"hate", "Hate speech", false, true},
	Malware:        {"malware", "Malware and hacking", false, true},
	Pornography:    {"pornography", "Pornography", false, true},
	Piracy:         {"piracy", "Piracy and copyright theft", false, true},
	SelfHarm:       {"self-harm", "Self harm", false, true},
	Violence:       {"violence", "Violence", false, true},
	Misinformation: {"misinformation", "Misinformation and disinformation", false, true},
	SocialMedia:    {"social-media", "Social media", false, false},
	Gaming:         {"gaming", "Gaming", false, false},
	Streaming:      {"streaming", "Streaming", false, false},
	Dating:         {"dating", "Dating", false, false},
	Chat:           {"chat", "Chat", false, false},
	GenerativeAI:   {"generative-ai", "Generative AI", false, false},
	Bypass:         {"bypass", "VPN, proxy and encrypted DNS", false, false},
	Custom:         {"custom", "Local list", false, false},
}

// ErrLocked is returned when something tries to allow or exempt a locked
// category: IWF and CTIRU content must be blocked for everyone, at all times,
// and no one (including administrators) may switch that off.
var ErrLocked = errors.New("category is locked: it applies to every group and schedule and cannot be allowed or exempted")

// CheckOverride returns an error wrapping ErrLocked when c is a locked
// category, and nil otherwise. Configuration calls it for every category a
// group, schedule, exemption or allow list would relax.
func CheckOverride(c Category) error {
	if c.Locked() {
		return fmt.Errorf("category %s: %w", c, ErrLocked)
	}
	return nil
}

// Categories returns every category in report order.
func Categories() []Category {
	out := make([]Category, 0, numCategories-1)
	for c := Category(1); c < numCategories; c++ {
		out = append(out, c)
	}
	return out
}

// ParseCategory returns the category with the configuration name s.
func ParseCategory(s string) (Category, error) {
	for c := Category(1); c < numCategories; c++ {
		if categories[c].name == s {
			return c, nil
		}
	}
	names := make([]string, 0, numCategories-1)
	for _, c := range Categories() {
		names = append(names, c.String())
	}
	return 0, fmt.Errorf("unknown category %q (want one of %s)", s, strings.Join(names, ", "))
}

// Valid reports whether c is one of the defined categories.
func (c Category) Valid() bool { return c > 0 && c < numCategories }

// Locked reports whether c is a locked illegal-content category: it applies
// to every group and every schedule, allow lists never override it, and
// configuration that tries to allow or exempt it is rejected.
func (c Category) Locked() bool { return c.Valid() && categories[c].locked }

// UKSIC reports whether c is one of the UK Safer Internet Centre
// "appropriate filtering" categories (including the locked ones).
func (c Category) UKSIC() bool { return c.Valid() && categories[c].uksic }

// String returns the configuration name, such as "self-harm".
func (c Category) String() string {
	if !c.Valid() {
		return fmt.Sprintf("category(%d)", uint8(c))
	}
	return categories[c].name
}

// Title returns the name shown to people, such as "Self harm".
func (c Category) Title() string {
	if !c.Valid() {
		return c.String()
	}
	return categories[c].title
}

// MarshalText implements encoding.TextMarshaler.
func (c Category) MarshalText() ([]byte, error) {
	if !c.Valid() {
		return nil, fmt.Errorf("marshalling category: invalid category %d", uint8(c))
	}
	return []byte(c.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler, so configuration can
// decode category names directly and reject unknown ones.
func (c *Category) UnmarshalText(b []byte) error {
	v, err := ParseCategory(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}
