// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Base64} from "@openzeppelin/contracts/utils/Base64.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

/**
 * @title BrainArt
 * @notice On-chain metadata of a Brain: ERC-721 metadata JSON with an SVG picture that shows the
 * Brain's number, its class and, for stake Brains, whether its Pepecoin is still locked.
 * Every value placed in the JSON is a number or one of the fixed words below, so no escaping is
 * needed.
 */
library BrainArt {
    using Strings for uint256;

    /// @param class 1 reserved, 2 burn, 3 stake (BrainNFT.BrainClass).
    function tokenURI(
        uint256 id,
        uint8 class,
        uint64 unlockAt,
        uint256 now_
    ) internal pure returns (string memory) {
        string memory className =
            class == 1
                ? "Reserved"
                : class == 2
                    ? "Burn"
                    : "Stake";
        string memory lock =
            class != 3
                ? "Permanent"
                : now_ < unlockAt
                    ? "Locked"
                    : "Unlocked";
        string memory image = Base64.encode(bytes(_svg(id, className, lock, unlockAt)));
        string memory json = string.concat(
            '{"name":"BasedAI Brain #',
            id.toString(),
            '","description":"A BasedAI Brain: the right to run one Brain of miners and validators',
            ' on the BasedAI network.",',
            '"attributes":[{"trait_type":"Class","value":"',
            className,
            '"},{"trait_type":"Lock","value":"',
            lock,
            '"},{"display_type":"date","trait_type":"Unlock","value":',
            uint256(unlockAt).toString(),
            '}],"image":"data:image/svg+xml;base64,',
            image,
            '"}'
        );
        return string.concat("data:application/json;base64,", Base64.encode(bytes(json)));
    }

    function _svg(
        uint256 id,
        string memory className,
        string memory lock,
        uint64 unlockAt
    ) private pure returns (string memory) {
        // The hue follows the id so neighbouring Brains look different.
        string memory hue = ((id * 137) % 360).toString();
        return
            string.concat(
                '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 320 320" font-family="monospace">',
                '<rect width="320" height="320" fill="hsl(',
                hue,
                ',45%,14%)"/>',
                '<circle cx="160" cy="130" r="78" fill="none" stroke="hsl(',
                hue,
                ',80%,65%)" stroke-width="6"/>',
                '<path d="M160 52v156M110 80c30 20 30 80 0 100M210 80c-30 20-30 80 0 100" fill="none" stroke="hsl(',
                hue,
                ',80%,65%)" stroke-width="4"/>',
                '<text x="160" y="250" fill="#fff" font-size="28" text-anchor="middle">Brain #',
                id.toString(),
                "</text>",
                '<text x="160" y="282" fill="#bbb" font-size="16" text-anchor="middle">',
                className,
                " / ",
                lock,
                unlockAt == 0 ? "" : string.concat(" @", uint256(unlockAt).toString()),
                "</text></svg>"
            );
    }
}
