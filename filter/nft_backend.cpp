#include "filter/nft_backend.h"
