
—
pbc_b.protopbct.bpbc_a.proto"s
Holder!
where (2.pbct.PointRwhere'
color (2.pbct.Color:BLUERcolor2
note	.pbct.Alle (	Rnote