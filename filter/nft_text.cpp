#include "filter/nft_text.h"
