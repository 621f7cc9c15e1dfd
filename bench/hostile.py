#!/usr/bin/env python3
"""Hostile uploads against `ghsync serve`: N connections announcing 25 MiB webhook bodies,
unsigned (refused before the body) or with a well-formed wrong signature, each stalling
after 24 MiB. Prints the server RSS with them open and after the 30 s body deadline.
Usage: N=32 bench/hostile.py PORT PID unsigned|signed"""
import socket, time, subprocess, sys, os
port=int(sys.argv[1]); pid=int(sys.argv[2]); mode=sys.argv[3]
def rss():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS"): return int(l.split()[1])//1024
N=int(os.environ.get("N","16")); size=25*1024*1024
socks=[]
base=rss()
t0=time.time()
for i in range(N):
    s=socket.create_connection(("127.0.0.1",port))
    sig = "X-Hub-Signature-256: sha256=" + "0"*64 + "\r\n" if mode=="signed" else ""
    s.sendall(f"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-GitHub-Event: issues\r\nX-GitHub-Delivery: h{i}\r\n{sig}Content-Length: {size}\r\n\r\n".encode())
    socks.append(s)
chunk=b"x"*(1024*1024)
if mode=="signed":
    for s in socks:
        try:
            for _ in range(24): s.sendall(chunk)
        except OSError: pass
time.sleep(2)
peak=rss()
def closed(wait):
    """How many of the connections the server answered or closed."""
    n=0
    for s in socks:
        s.settimeout(wait)
        try:
            d=s.recv(100)
            if d==b"" or d.startswith(b"HTTP/1.1"): n+=1
        except socket.timeout: pass
        except OSError: n+=1
    return n
print(f"{mode}: rss before {base} MB, with {N} uploads {peak} MB; answered/closed at once: {closed(0.1)}/{N}")
if mode=="signed":
    time.sleep(32)
    print(f"signed: after the 30 s body deadline: rss {rss()} MB; closed {closed(0.5)}/{N}")
