// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";

/**
 * @title PlainERC721
 * @notice OpenZeppelin's ERC721 with nothing added: the gas floor that BrainNFT's mints are
 * measured against (docs/benchmarks.md).
 */
contract PlainERC721 is ERC721 {
    constructor() ERC721("Plain", "PLAIN") {}

    function safeMint(address to, uint256 id) external {
        _safeMint(to, id);
    }
}
