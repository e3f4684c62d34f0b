"""Offline map tiles for central's map: an MBTiles reader, the shipped Bengkalis tile set and its builder."""
