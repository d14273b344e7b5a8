"""Seal stdin for the RSA public key (PEM) at argv[1], as PipeCD does.

Written with Python's `cryptography`, independently of Ferry's Go code, to
show that ciphertexts made elsewhere decrypt: a random AES-256-GCM key with
a zero nonce seals the plaintext; RSA-OAEP (SHA-256, MGF1 SHA-256, no label)
wraps the key; the output is base64(uint16be(len(rsaCT)) + rsaCT + aesCT).
"""
import base64
import os
import struct
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

with open(sys.argv[1], "rb") as f:
    pub = serialization.load_pem_public_key(f.read())
plaintext = sys.stdin.buffer.read()
key = os.urandom(32)
wrapped = pub.encrypt(key, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
sealed = AESGCM(key).encrypt(b"\0" * 12, plaintext, None)
sys.stdout.write(base64.b64encode(struct.pack(">H", len(wrapped)) + wrapped + sealed).decode())
