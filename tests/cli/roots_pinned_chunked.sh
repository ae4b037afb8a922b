# The chunked batch reduction's roots are a contract too (proofwork(7), EXACT MODE, the
# chunked batch reduction): tasks with a reduce chunk of 8, 16 and 32, an odd size (5
# and 3, the latter through an AQ-SGD cut) and 1, with widths that leave edge tiles, on
# 1 and 2 threads, pinned by the build before its chunked kernels were reworked. A
# kernel that changed a single bit of a weight gradient or a bias sum moves these roots.
both() {  # both TASK WANT: on 1 and 2 threads
  pinned "$1" "$2" --threads 1
  pinned "$1" "$2" --threads 2
}
make_tiny_task c8.pwt --batch 64 --reduce-chunk 8 --model mlp:784-40-24-10 --steps 20
both c8.pwt 0a0e638a8ddfec52cf6d3bf94c2c3ae591b103d10d83058f3c5e305ef416fd88
make_tiny_task c16.pwt --batch 64 --reduce-chunk 16 --model mlp:784-40-24-10 --steps 20
both c16.pwt 54dba52e1753a97ab807c7c668326fadf53b78511c02cb08bffcec349f7abc96
make_tiny_task c32.pwt --batch 128 --reduce-chunk 32 --model mlp:784-70-10 --steps 12
both c32.pwt 3fcb0c8700c8deafccd92ba35305161e6f97bdeceafed3045496e72b20eba756
make_tiny_task c5.pwt --batch 40 --reduce-chunk 5 --model mlp:784-37-19-10 --steps 20
both c5.pwt bfdbe9debbcde3426e71603b07f0ed6a8023b6b9a1d7006d1bd7bce07557111e
make_tiny_task c1.pwt --batch 16 --reduce-chunk 1 --steps 20
both c1.pwt bbc1c2f431da596d863c84689f73c1fb74cdf6991b37d6a96ad8add39f0cefc2
make_tiny_task c3.pwt --batch 96 --reduce-chunk 3 --model mlp:784-33-10 --steps 12 --cut 1:4
both c3.pwt e99f17c0ede253ae358a1d52c666aeae9fdba7584c00386b1d9ad492b10ecd72
