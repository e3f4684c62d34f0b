"""Central node: consolidates every posko and agency record for the regency (issue 5)."""
