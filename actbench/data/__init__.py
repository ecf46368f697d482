"""Data: the tensor pipeline (held on the device, augmented per batch), where images come from (CIFAR
binaries, image folders, archives, torchvision datasets) and how archives are read and verified."""
