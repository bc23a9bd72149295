#include "textflag.h"

// func specialMasksAVX2(p *byte, blocks int, a, b byte, masks *uint32)
//
// For each of the blocks 32-byte blocks at p, writes a mask with bit k
// set where byte k of the block is a or b.
TEXT ·specialMasksAVX2(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), SI
	MOVQ blocks+8(FP), CX
	MOVBQZX a+16(FP), AX
	MOVBQZX b+17(FP), BX
	MOVQ masks+24(FP), DI
	MOVQ AX, X0
	VPBROADCASTB X0, Y0
	MOVQ BX, X1
	VPBROADCASTB X1, Y1
	TESTQ CX, CX
	JZ done

loop:
	VMOVDQU (SI), Y2
	VPCMPEQB Y0, Y2, Y3
	VPCMPEQB Y1, Y2, Y4
	VPOR Y3, Y4, Y3
	VPMOVMSKB Y3, DX
	MOVL DX, (DI)
	ADDQ $32, SI
	ADDQ $4, DI
	DECQ CX
	JNZ loop

done:
	VZEROUPPER
	RET
