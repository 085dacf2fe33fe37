package report

import (
	"encoding/xml"
	"fmt"
	"strconv"
)

// The JUnit XML elements shrink writes (the subset every CI reader knows).
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit renders the gates as JUnit XML: one test suite "shrink compare",
// one test case per gate and candidate (name: the gate; classname:
// "compare." + the candidate), failed gates as <failure> elements whose
// message is the one-line verdict and whose text gives the figure and the
// limit. With no gates the suite has no test cases.
func (d *Compare) JUnit() ([]byte, error) {
	elapsed := strconv.FormatFloat(d.ElapsedS, 'f', 3, 64)
	s := junitSuite{Name: "shrink compare", Time: elapsed, Cases: []junitCase{}}
	s.Properties = []junitProperty{
		{"baseline", d.Baseline.Path},
		{"data", d.Data.Path},
		{"samples", strconv.Itoa(d.Data.Samples)},
	}
	if d.Settings.Metric != nil {
		s.Properties = append(s.Properties, junitProperty{"metric", *d.Settings.Metric})
	}
	for _, g := range d.Gates {
		fig := g.figure(-1)
		bound := "at most"
		if g.atLeast() {
			bound = "at least"
		}
		detail := fmt.Sprintf("figure: %s %s\nlimit: %s %s (%s)\n", fig, g.Unit, bound, strconv.FormatFloat(g.Limit, 'g', -1, 64), g.Unit)
		if g.Reason != "" {
			detail += "reason: " + g.Reason + "\n"
		}
		c := junitCase{Name: g.Gate, Classname: "compare." + g.Candidate, Time: "0"}
		if g.Passed {
			c.SystemOut = detail
		} else {
			c.Failure = &junitFailure{Message: g.Message, Type: "gate", Text: detail}
			s.Failures++
		}
		s.Cases = append(s.Cases, c)
		s.Tests++
	}
	doc := junitSuites{Name: "shrink", Tests: s.Tests, Failures: s.Failures, Time: elapsed, Suites: []junitSuite{s}}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}
