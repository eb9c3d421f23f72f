"""README's tour and tool samples: the outputs shown are what the code prints today."""

import sys

import support

sys.path.insert(0, str(support.REPO / "tools"))
import readme_tour  # noqa: E402  (tools/ is not a package)


def test_readme_outputs_and_example_pcap_are_up_to_date():
    support.require("tshark")
    current = readme_tour.README.read_text()
    fresh, example_pcap = readme_tour.fresh_readme(current)
    assert readme_tour.same_outputs(current, fresh), \
        "README.md is stale: run tools/readme_tour.py"
    assert example_pcap == (support.REPO / "example" / "curl-http.pcap").read_bytes(), \
        "example/curl-http.pcap is stale: run tools/readme_tour.py"
    # --check would notice a changed output (and only the run time is masked).
    assert not readme_tour.same_outputs(current.replace("GET / HTTP/1.1", "GET /a HTTP/1.1", 1),
                                        fresh)
    assert "$ tshark -r example/curl-http.pcap\n    1   0.000000    127.0.0.1" in fresh
