
«
pbc_c.protopbct3"Œ
Msg
n (Rn
s (	Rs
nums (Rnums
m (2.pbct3.Msg.MEntryRm4
MEntry
key (	Rkey
value (Rvalue:8bproto3